import { useCallback, useEffect, useState, type FormEvent } from "react";
import * as api from "../api";
import type { Chat, TaskDto } from "../bindings";
import { Modal } from "../components/Modal";
import { TaskCard } from "../components/TaskCard";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { fromLocalInput } from "../logic/tasks";

/** A conversation's tasks, and a form for a new one. Reloads when `version` changes. */
export function TasksDialog(props: {
  chat: Chat;
  title: string;
  me: string;
  members: string[];
  nameOf: (u: string) => string;
  version: number;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const { chat } = props;
  const [tasks, setTasks] = useState<TaskDto[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  const reload = useCallback(async () => {
    try {
      setTasks(await api.tasks({ mine: false, by_me: false, overdue: false, done: true, chat }));
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [chat, t]);

  useEffect(() => {
    void reload();
  }, [reload, props.version]);

  const changed = () => {
    void reload();
    props.onChanged();
  };

  return (
    <Modal title={t("task.listTitle", { name: props.title })} onClose={props.onClose} testId="tasks-dialog" className="wide">
      {creating ? (
        <NewTaskForm
          chat={chat}
          me={props.me}
          members={props.members}
          nameOf={props.nameOf}
          onCancel={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            changed();
          }}
        />
      ) : (
        <button type="button" className="btn primary" data-testid="new-task" onClick={() => setCreating(true)}>
          + {t("task.new")}
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="task-list" data-testid="task-list">
        {tasks?.length === 0 && <p className="muted">{t("task.none")}</p>}
        {tasks?.map((task) => (
          <TaskCard key={`${task.id}-${task.updated_at}`} task={task} members={props.members} nameOf={props.nameOf} onChanged={changed} />
        ))}
      </div>
      <div className="modal-actions">
        <button type="button" className="btn" data-testid="tasks-close" onClick={props.onClose}>
          {t("common.close")}
        </button>
      </div>
    </Modal>
  );
}

/** Title, assignee (a member), optional deadline and details. */
function NewTaskForm(props: {
  chat: Chat;
  me: string;
  members: string[];
  nameOf: (u: string) => string;
  onCancel: () => void;
  onCreated: () => void;
}) {
  const { t } = useI18n();
  const [title, setTitle] = useState("");
  const [assignee, setAssignee] = useState(props.chat.kind === "user" ? props.chat.user : props.me);
  const [deadline, setDeadline] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.createTask({
        chat: props.chat,
        title: title.trim(),
        assignee,
        deadline: fromLocalInput(deadline),
        description: description.trim() || null,
      });
      props.onCreated();
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };

  return (
    <form className="form new-task" data-testid="new-task-form" onSubmit={submit}>
      <label className="field">
        <span>{t("task.title")}</span>
        <input data-testid="new-task-title" value={title} maxLength={256} autoFocus onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label className="field">
        <span>{t("task.assignee")}</span>
        <select data-testid="new-task-assignee" value={assignee} onChange={(e) => setAssignee(e.target.value)}>
          {props.members.map((u) => (
            <option key={u} value={u}>
              {props.nameOf(u)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t("task.deadline")}</span>
        <input type="datetime-local" data-testid="new-task-deadline" value={deadline} onChange={(e) => setDeadline(e.target.value)} />
      </label>
      <label className="field">
        <span>{t("task.description")}</span>
        <textarea data-testid="new-task-description" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
        <button type="submit" className="btn primary" data-testid="new-task-create" disabled={busy || !title.trim()}>
          {t("task.create")}
        </button>
      </div>
    </form>
  );
}
