import type { Device } from "../bindings";
import { useI18n } from "../I18nContext";
import { hasKey } from "../i18n";
import { longDate } from "../logic/format";

/** A revocation reason in words. */
export function useReason(): (r: string) => string {
  const { t } = useI18n();
  return (r) => {
    const key = `reason.${r}`;
    return hasKey(key) ? t(key) : r;
  };
}

/** A person's devices: number, when added, revoked or active. */
export function DeviceList({ devices, current }: { devices: Device[]; current?: number }) {
  const { t, lang } = useI18n();
  const reason = useReason();
  return (
    <ul className="devices">
      {devices.map((d) => (
        <li key={d.device} className={d.revoked ? "revoked" : ""}>
          <strong>{t("dir.device", { n: d.device })}</strong>
          {current === d.device && <span className="pill ok">{t("settings.thisDevice")}</span>}{" "}
          <span className="muted">{t("dir.addedOn", { date: longDate(d.added_at, lang) })}</span>{" "}
          <span className={d.revoked ? "pill bad" : "pill ok"}>
            {d.revoked ? t("dir.revoked", { reason: reason(d.revoked) }) : t("dir.active")}
          </span>
        </li>
      ))}
    </ul>
  );
}
