import type { GoneReason } from "../bindings";
import { useI18n } from "../I18nContext";

/** This device's account is gone: why, in plain words, and nothing else. */
export function Gone({ reason, onStartAgain }: { reason: GoneReason; onStartAgain: () => void }) {
  const { t } = useI18n();
  return (
    <main className="center-screen" data-testid="gone-screen" data-reason={reason}>
      <div className="card narrow">
        <h1>{t("gone.title")}</h1>
        <p className="lead">{t(`gone.${reason}` as const)}</p>
        <button type="button" className="btn primary" onClick={onStartAgain}>
          {t("gone.startAgain")}
        </button>
      </div>
    </main>
  );
}
