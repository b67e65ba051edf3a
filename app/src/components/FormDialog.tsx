import { useState, type FormEvent, type ReactNode } from "react";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { Modal } from "./Modal";

/**
 * A modal form that saves one setting: its fields, an error if saving fails (in words, from
 * the engine's code), Cancel and a save button that is disabled while saving. Closes once
 * `onSave` resolves.
 */
export function FormDialog(props: {
  title: string;
  testId: string;
  saveLabel: string;
  saveTestId: string;
  onClose: () => void;
  onSave: () => Promise<void>;
  /** False keeps the save button disabled (default true). */
  canSave?: boolean;
  children: ReactNode;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onSave();
      props.onClose();
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };

  return (
    <Modal title={props.title} onClose={props.onClose} testId={props.testId}>
      <form className="form" onSubmit={submit}>
        {props.children}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" className="btn primary" disabled={busy || props.canSave === false} data-testid={props.saveTestId}>
            {props.saveLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
