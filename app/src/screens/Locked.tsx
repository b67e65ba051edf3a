import { useI18n } from "../I18nContext";

/** The account cannot open now: why, and Retry. */
export function Locked({ message, onRetry }: { message: string; onRetry: () => void }) {
  const { t } = useI18n();
  return (
    <main className="center-screen" data-testid="locked-screen">
      <div className="card narrow">
        <h1>{t("locked.title")}</h1>
        <p className="lead" role="alert">
          {message}
        </p>
        <button type="button" className="btn primary" data-testid="retry" onClick={onRetry}>
          {t("common.retry")}
        </button>
      </div>
    </main>
  );
}
