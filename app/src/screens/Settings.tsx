import { useEffect, useState } from "react";
import * as api from "../api";
import type { Me, Person } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText, type Lang } from "../i18n";
import { savedTheme, setTheme, type Theme } from "../theme";
import { durationText } from "../logic/format";
import { DeviceList } from "./Devices";

/** Language, theme, and this account and its devices. */
export function Settings({ me, people }: { me: Me; people: Person[] }) {
  const { t, lang, setLang } = useI18n();
  const [theme, setThemeState] = useState<Theme>(savedTheme);
  const mine = people.find((p) => p.user === me.user);
  const [link, setLink] = useState<{ ok: boolean; text: string } | null>(null);
  const makeLink = async () => {
    try {
      setLink({ ok: true, text: await api.linkCode() });
    } catch (e) {
      setLink({ ok: false, text: errorText(t, e) });
    }
  };
  return (
    <section className="settings page" aria-label={t("settings.title")}>
      <h2>{t("settings.title")}</h2>
      <div className="form">
        <label className="field">
          <span>{t("settings.language")}</span>
          <select data-testid="language-select" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            <option value="en">English</option>
            <option value="ru">Русский</option>
          </select>
        </label>
        <label className="field">
          <span>{t("settings.theme")}</span>
          <select
            data-testid="theme-select"
            value={theme}
            onChange={(e) => {
              const v = e.target.value as Theme;
              setThemeState(v);
              setTheme(v);
            }}
          >
            <option value="system">{t("theme.system")}</option>
            <option value="light">{t("theme.light")}</option>
            <option value="dark">{t("theme.dark")}</option>
          </select>
        </label>
      </div>
      <h3>{t("settings.reminders")}</h3>
      <ReminderLead />
      <h3>{t("settings.account")}</h3>
      <dl className="facts">
        <dt>{t("settings.userId")}</dt>
        <dd data-testid="my-user">{me.user}</dd>
        <dt>{t("settings.device")}</dt>
        <dd data-testid="my-device">{t("dir.device", { n: me.device })}</dd>
        <dt>{t("settings.org")}</dt>
        <dd>{me.org_name}</dd>
        <dt>{t("settings.relay")}</dt>
        <dd>{me.relay}</dd>
      </dl>
      <h3>{t("settings.myDevices")}</h3>
      {mine ? <DeviceList devices={mine.devices} current={me.device} /> : <p className="muted">{t("common.loading")}</p>}
      <h3>{t("settings.link")}</h3>
      <button type="button" className="btn" data-testid="link-code-button" onClick={makeLink}>
        {t("settings.linkButton")}
      </button>
      {link &&
        (link.ok ? (
          <div className="invite-result">
            <p>{t("settings.linkHint")}</p>
            <textarea readOnly rows={4} data-testid="link-code" value={link.text} aria-label={t("settings.link")} onFocus={(e) => e.currentTarget.select()} />
          </div>
        ) : (
          <p className="error" role="alert">
            {link.text}
          </p>
        ))}
    </section>
  );
}

/** The leads offered for task reminders, in seconds (0: only at the deadline). */
const LEADS = [0, 15 * 60, 3600, 3 * 3600, 86_400];

/** How long before a deadline this device reminds of a task. */
function ReminderLead() {
  const { t } = useI18n();
  const [lead, setLead] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.taskReminderLead().then(setLead, (e) => setError(errorText(t, e)));
  }, [t]);
  const offered = lead === null || LEADS.includes(lead) ? LEADS : [...LEADS, lead].sort((a, b) => a - b);
  return (
    <div className="form">
      <label className="field">
        <span>{t("settings.reminderLead")}</span>
        <select
          data-testid="reminder-lead"
          value={lead ?? ""}
          disabled={lead === null}
          onChange={(e) => {
            const secs = Number(e.target.value);
            setLead(secs);
            api.setTaskReminderLead(secs).catch((err) => setError(errorText(t, err)));
          }}
        >
          {offered.map((s) => (
            <option key={s} value={s}>
              {s === 0 ? t("settings.reminderAtOnly") : durationText(s, t)}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
