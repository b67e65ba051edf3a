import { useState, type FormEvent } from "react";
import * as api from "../api";
import type { TaskChangeDto, TaskDto, TaskStatusDto } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { timeOfDay } from "../logic/format";
import { deadlineText, fromLocalInput, STATUSES, shortId, statusText, toLocalInput } from "../logic/tasks";

/**
 * One task: title, status, assignee, deadline, details and comments, with the controls that
 * change it (each change is an encrypted message to the conversation).
 */
export function TaskCard(props: {
  task: TaskDto;
  /** Who may be given it: the conversation's members. */
  members: string[];
  nameOf: (u: string) => string;
  /** Where it is ("in #Ops"), when the list spans conversations. */
  place?: string;
  onOpenChat?: () => void;
  onChanged: () => void;
}) {
  const { t, lang } = useI18n();
  const { task } = props;
  const [deadline, setDeadline] = useState(toLocalInput(task.deadline));
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const change = async (c: TaskChangeDto) => {
    setBusy(true);
    setError(null);
    try {
      await api.changeTask(task.chat, task.id, c);
      props.onChanged();
      return true;
    } catch (e) {
      setError(errorText(t, e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const sendComment = async (e: FormEvent) => {
    e.preventDefault();
    const text = comment.trim();
    if (text && (await change({ kind: "comment", text }))) setComment("");
  };

  const assignees = props.members.includes(task.assignee) ? props.members : [task.assignee, ...props.members];
  return (
    <article
      className={`task-card ${task.status === "done" ? "done" : ""}`}
      data-testid="task-card"
      data-task={shortId(task.id)}
      aria-label={task.title}
    >
      <header className="task-head">
        <strong className="task-title" data-testid="task-title">
          {task.title}
        </strong>
        <span className={`badge status-${task.status}`} data-testid="task-status-badge">
          {statusText(task.status, t)}
        </span>
        {task.overdue && (
          <span className="badge overdue" data-testid="task-overdue">
            {t("task.overdue")}
          </span>
        )}
      </header>
      <div className="muted small task-meta">
        {t("task.for", { name: props.nameOf(task.assignee) })} · {t("task.by", { name: props.nameOf(task.creator) })}
        {task.deadline !== null && <> · {t("task.due", { when: deadlineText(task.deadline, lang) })}</>}
        {props.place && <> · {props.place}</>}
      </div>
      {task.description && <p className="task-description">{task.description}</p>}
      {task.comments.length > 0 && (
        <ul className="task-comments" aria-label={t("task.comment")}>
          {task.comments.map((c) => (
            <li key={`${c.at}-${c.author}-${c.text}`} data-testid="task-comment-line">
              <span className="muted small">{timeOfDay(c.at, lang)}</span> <strong>{props.nameOf(c.author)}</strong>: {c.text}
            </li>
          ))}
        </ul>
      )}
      <div className="task-controls">
        <label className="field inline">
          <span>{t("task.status")}</span>
          <select
            data-testid="task-status"
            value={task.status}
            disabled={busy}
            onChange={(e) => void change({ kind: "status", status: e.target.value as TaskStatusDto })}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusText(s, t)}
              </option>
            ))}
          </select>
        </label>
        <label className="field inline">
          <span>{t("task.assignee")}</span>
          <select
            data-testid="task-assignee"
            value={task.assignee}
            disabled={busy}
            onChange={(e) => void change({ kind: "assign", assignee: e.target.value })}
          >
            {assignees.map((u) => (
              <option key={u} value={u}>
                {props.nameOf(u)}
              </option>
            ))}
          </select>
        </label>
        <label className="field inline">
          <span>{t("task.deadline")}</span>
          <input
            type="datetime-local"
            data-testid="task-deadline"
            value={deadline}
            onChange={(e) => setDeadline(e.target.value)}
          />
        </label>
        <button
          type="button"
          className="btn small"
          data-testid="task-deadline-set"
          disabled={busy || fromLocalInput(deadline) === null || fromLocalInput(deadline) === task.deadline}
          onClick={() => void change({ kind: "deadline", deadline: fromLocalInput(deadline) })}
        >
          {t("task.setDeadline")}
        </button>
        {task.deadline !== null && (
          <button
            type="button"
            className="btn small"
            data-testid="task-deadline-clear"
            disabled={busy}
            onClick={() => {
              setDeadline("");
              void change({ kind: "deadline", deadline: null });
            }}
          >
            {t("task.clearDeadline")}
          </button>
        )}
        {props.onOpenChat && (
          <button type="button" className="btn small" data-testid="task-open-chat" onClick={props.onOpenChat}>
            {t("task.open")}
          </button>
        )}
      </div>
      <form className="task-comment-form" onSubmit={sendComment}>
        <input
          data-testid="task-comment"
          value={comment}
          placeholder={t("task.commentPlaceholder")}
          aria-label={t("task.comment")}
          onChange={(e) => setComment(e.target.value)}
        />
        <button type="submit" className="btn small" data-testid="task-comment-send" disabled={busy || !comment.trim()}>
          {t("task.send")}
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </article>
  );
}
