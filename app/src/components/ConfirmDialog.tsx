import { useRef } from "react";
import { useI18n } from "../I18nContext";
import { Modal } from "./Modal";

/** Asks before a destructive action. Cancel has the focus; Escape cancels. */
export function ConfirmDialog(props: {
  text: string;
  okLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  title?: string;
}) {
  const { t } = useI18n();
  const cancel = useRef<HTMLButtonElement>(null);
  return (
    <Modal
      title={props.title ?? t("confirm.title")}
      onClose={props.onCancel}
      initialFocus={cancel}
      testId="confirm-dialog"
    >
      <p className="confirm-text">{props.text}</p>
      <div className="modal-actions">
        <button ref={cancel} type="button" className="btn" data-testid="confirm-cancel" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
        <button type="button" className="btn danger" data-testid="confirm-ok" onClick={props.onConfirm}>
          {props.okLabel}
        </button>
      </div>
    </Modal>
  );
}
