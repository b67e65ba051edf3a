import { useEffect, useState } from "react";
import * as api from "../api";
import type { Me, Person, StatusDto } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText, type Lang } from "../i18n";
import { savedTheme, setTheme, type Theme } from "../theme";
import { durationText, isShown } from "../logic/format";
import { DeviceList } from "./Devices";

/** Language, theme, and this account and its devices. */
export function Settings({
  me,
  people,
  status,
  onStatus,
}: {
  me: Me;
  people: Person[];
  status: StatusDto | null;
  onStatus: (s: StatusDto) => void;
}) {
  const { t, lang, setLang } = useI18n();
  const [theme, setThemeState] = useState<Theme>(savedTheme);
  const mine = people.find((p) => p.user === me.user);
  const [link, setLink] = useState<{ ok: boolean; text: string } | null>(null);
  const [keystore, setKeystore] = useState<boolean | null>(null);
  useEffect(() => {
    api.keyInKeystore().then(setKeystore, () => setKeystore(null));
  }, []);
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
      <h3>{t("settings.status")}</h3>
      <MyStatus me={me.user} status={status} onStatus={onStatus} />
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
        {keystore !== null && (
          <>
            <dt>{t("settings.storeKey")}</dt>
            <dd data-testid="store-key">{t(keystore ? "settings.keyInKeystore" : "settings.keyInFile")}</dd>
          </>
        )}
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

/** How long a status may last, in seconds (0: until changed). */
const LASTING = [0, 3600, 8 * 3600, 86_400, 7 * 86_400];

/** This user's status text: set with how long it lasts, or cleared. */
function MyStatus(props: { me: string; status: StatusDto | null; onStatus: (s: StatusDto) => void }) {
  const { t } = useI18n();
  const current = props.status && isShown(props.status) ? props.status.text : "";
  const [text, setText] = useState(current);
  const [lasting, setLasting] = useState(0);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async (value: string) => {
    const until = value && lasting > 0 ? Date.now() + lasting * 1000 : null;
    try {
      const told = await api.setStatus(value, until);
      props.onStatus({ user: props.me, text: value.trim(), until });
      setText(value.trim());
      setNote({ ok: true, text: t(value ? "settings.statusSet" : "settings.statusCleared", { count: told }) });
    } catch (e) {
      setNote({ ok: false, text: errorText(t, e) });
    }
  };
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        void save(text);
      }}
    >
      <label className="field">
        <span>{t("settings.statusText")}</span>
        <input
          data-testid="status-text"
          value={text}
          maxLength={256}
          placeholder={t("settings.statusPlaceholder")}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <label className="field">
        <span>{t("settings.statusLasting")}</span>
        <select data-testid="status-lasting" value={lasting} onChange={(e) => setLasting(Number(e.target.value))}>
          {LASTING.map((s) => (
            <option key={s} value={s}>
              {s === 0 ? t("settings.statusForever") : durationText(s, t)}
            </option>
          ))}
        </select>
      </label>
      <div className="row-actions">
        <button type="button" className="btn" data-testid="status-clear" disabled={!current} onClick={() => void save("")}>
          {t("settings.statusClear")}
        </button>
        <button type="submit" className="btn primary" data-testid="status-save" disabled={!text.trim()}>
          {t("settings.statusSave")}
        </button>
      </div>
      {note && (
        <p className={note.ok ? "muted small" : "error"} role={note.ok ? "status" : "alert"} data-testid="status-note">
          {note.text}
        </p>
      )}
    </form>
  );
}
