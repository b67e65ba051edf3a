import { useState } from "react";
import * as api from "../api";
import type { Chat, Notify, NotifyState } from "../bindings";
import { FormDialog } from "../components/FormDialog";
import { useI18n } from "../I18nContext";

/** Mute choices: minutes (0: unmute) and their labels. */
const MUTE = [
  [0, "notify.unmute"],
  [60, "notify.for60"],
  [8 * 60, "notify.for480"],
  [7 * 24 * 60, "notify.for10080"],
] as const;

/** When a conversation notifies: every message, mentions only, never; mute for a while. */
export function NotifyDialog(props: {
  chat: Chat;
  title: string;
  current: NotifyState;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const [level, setLevel] = useState<Notify>(props.current.level);
  // A running mute is kept unless another choice is made (-1).
  const [mute, setMute] = useState<number>(-1);
  const muted = props.current.muted_until > Date.now();

  const save = async () => {
    const until =
      mute === -1 ? (muted ? props.current.muted_until : 0) : mute === 0 ? 0 : Date.now() + mute * 60_000;
    await api.setNotify(props.chat, level, until);
    props.onChanged();
  };

  return (
    <FormDialog
      title={t("notify.title", { name: props.title })}
      testId="notify-dialog"
      saveLabel={t("notify.save")}
      saveTestId="notify-save"
      onClose={props.onClose}
      onSave={save}
    >
      <fieldset className="choices">
        <legend>{t("notify.when")}</legend>
        {(["all", "mentions", "none"] as const).map((l) => (
          <label key={l} className="check">
            <input
              type="radio"
              name="notify-level"
              value={l}
              checked={level === l}
              onChange={() => setLevel(l)}
              data-testid={`notify-${l}`}
            />{" "}
            {t(`notify.${l}`)}
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span>{t("notify.mute")}</span>
        <select data-testid="notify-mute" value={mute} onChange={(e) => setMute(Number(e.target.value))}>
          <option value={-1}>
            {muted
              ? t("notify.mutedUntil", { time: new Date(props.current.muted_until).toLocaleString() })
              : t("notify.notMuted")}
          </option>
          {MUTE.filter(([m]) => m > 0 || muted).map(([m, label]) => (
            <option key={m} value={m}>
              {t(label)}
            </option>
          ))}
        </select>
      </label>
      <p className="muted small">{t("notify.synced")}</p>
    </FormDialog>
  );
}
