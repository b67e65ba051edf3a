import { useState } from "react";
import * as api from "../api";
import type { Chat, DisappearingState } from "../bindings";
import { FormDialog } from "../components/FormDialog";
import { useI18n } from "../I18nContext";
import { durationText } from "../logic/format";

/** The timers offered, in seconds (0: off). */
const TIMERS = [0, 30, 5 * 60, 3600, 8 * 3600, 86_400, 7 * 86_400, 30 * 86_400];

/** A conversation's disappearing-message timer, for every member. */
export function DisappearDialog(props: {
  chat: Chat;
  title: string;
  current: DisappearingState;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const { max_secs } = props.current;
  const offered = TIMERS.filter((s) => max_secs === 0 || s <= max_secs);
  if (!offered.includes(props.current.secs)) offered.push(props.current.secs);
  const [secs, setSecs] = useState(props.current.secs);

  return (
    <FormDialog
      title={t("timer.title", { name: props.title })}
      testId="timer-dialog"
      saveLabel={t("timer.save")}
      saveTestId="timer-save"
      onClose={props.onClose}
      onSave={async () => {
        await api.setDisappearing(props.chat, secs);
        props.onChanged();
      }}
    >
      <label className="field">
        <span>{t("timer.label")}</span>
        <select data-testid="timer-select" value={secs} onChange={(e) => setSecs(Number(e.target.value))}>
          {offered
            .sort((a, b) => a - b)
            .map((s) => (
              <option key={s} value={s}>
                {s === 0 ? t("timer.off") : durationText(s, t)}
              </option>
            ))}
        </select>
      </label>
      <p className="muted small">{t("timer.explain")}</p>
      {max_secs > 0 && (
        <p className="muted small" data-testid="timer-max">
          {t("timer.max", { time: durationText(max_secs, t) })}
        </p>
      )}
    </FormDialog>
  );
}
