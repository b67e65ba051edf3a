import type { TaskDto, TaskEvent, TaskStatusDto } from "../bindings";
import type { Key, Lang, T } from "../i18n";

export const STATUSES: TaskStatusDto[] = ["open", "in_progress", "done", "reopened"];

const STATUS_KEYS: Record<TaskStatusDto, Key> = {
  open: "task.status.open",
  in_progress: "task.status.in_progress",
  done: "task.status.done",
  reopened: "task.status.reopened",
};

export function statusText(s: TaskStatusDto, t: T): string {
  return t(STATUS_KEYS[s]);
}

/** A deadline for people, in the local time zone: "11 Dec, 17:00". */
export function deadlineText(ms: number, lang: Lang): string {
  return new Date(ms).toLocaleString(lang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/** The value of a `datetime-local` input for `ms` (local time), or "" for none. */
export function toLocalInput(ms: number | null): string {
  if (ms === null) return "";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The time (ms) of a `datetime-local` input's value (local time); null when empty or invalid. */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** The first 8 hex digits of a task id: how the CLI names it too. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A task row of a conversation in words: "Alice created the task “Report” for Bob". */
export function taskEventText(
  change: TaskEvent,
  actor: string,
  title: string,
  nameOf: (u: string) => string,
  t: T,
  lang: Lang,
): string {
  switch (change.kind) {
    case "created":
      return change.deadline === null
        ? t("task.created", { actor, title, name: nameOf(change.assignee) })
        : t("task.createdDue", {
            actor,
            title,
            name: nameOf(change.assignee),
            when: deadlineText(change.deadline, lang),
          });
    case "status":
      return t("task.statusSet", { actor, title, status: statusText(change.status, t) });
    case "assigned":
      return t("task.assigned", { actor, title, name: nameOf(change.assignee) });
    case "deadline":
      return change.deadline === null
        ? t("task.deadlineCleared", { actor, title })
        : t("task.deadlineSet", { actor, title, when: deadlineText(change.deadline, lang) });
    case "comment":
      return t("task.commented", { actor, title, text: change.text });
  }
}

/** Open tasks first; among them the soonest deadline first (none last), then the oldest. */
export function byUrgency(a: TaskDto, b: TaskDto): number {
  const done = Number(a.status === "done") - Number(b.status === "done");
  if (done !== 0) return done;
  const da = a.deadline ?? Number.MAX_SAFE_INTEGER;
  const db = b.deadline ?? Number.MAX_SAFE_INTEGER;
  return da - db || a.created_at - b.created_at;
}
