import { useCallback, useEffect, useState } from "react";
import * as api from "../api";
import type { Chat, ChatSummary, Me, TaskDto } from "../bindings";
import { TaskCard } from "../components/TaskCard";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { sameChat } from "../logic/chat";

type Filter = "mine" | "by_me" | "overdue";

/** Tasks across conversations: given to me, handed out by me, overdue. */
export function Tasks(props: {
  me: Me;
  convs: ChatSummary[];
  nameOf: (u: string) => string;
  version: number;
  onOpen: (chat: Chat) => void;
}) {
  const { t } = useI18n();
  const { me, convs } = props;
  const [filter, setFilter] = useState<Filter>("mine");
  const [done, setDone] = useState(false);
  const [tasks, setTasks] = useState<TaskDto[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      const list = await api.tasks({
        mine: filter === "mine",
        by_me: filter === "by_me",
        overdue: filter === "overdue",
        done,
        chat: null,
      });
      // Overdue: of mine, or handed out by me.
      setTasks(list.filter((x) => filter !== "overdue" || x.assignee === me.user || x.creator === me.user));
      setError(null);
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [filter, done, me.user, t]);

  useEffect(() => {
    void reload();
  }, [reload, props.version]);

  const summaryOf = (chat: Chat) => convs.find((c) => sameChat(c.chat, chat));
  const members = (chat: Chat) => {
    const s = summaryOf(chat);
    const list = s ? s.members : chat.kind === "user" ? [chat.user] : [];
    return list.includes(me.user) ? list : [...list, me.user];
  };
  const place = (chat: Chat) =>
    t("task.in", { name: summaryOf(chat)?.title || (chat.kind === "user" ? props.nameOf(chat.user) : "…") });

  const tab = (f: Filter, label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={filter === f}
      className={`tab ${filter === f ? "active" : ""}`}
      data-testid={`tasks-${f}`}
      onClick={() => setFilter(f)}
    >
      {label}
    </button>
  );

  return (
    <section className="tasks page" aria-label={t("nav.tasks")}>
      <h2>{t("nav.tasks")}</h2>
      <div className="tabs" role="tablist">
        {tab("mine", t("task.mine"))}
        {tab("by_me", t("task.byMe"))}
        {tab("overdue", t("task.overdueOnly"))}
      </div>
      <label className="check">
        <input type="checkbox" data-testid="tasks-done" checked={done} onChange={(e) => setDone(e.target.checked)} />
        {t("task.showDone")}
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="task-list" data-testid="my-tasks">
        {tasks?.length === 0 && <p className="muted">{t("task.noneMine")}</p>}
        {tasks?.map((task) => (
          <TaskCard
            key={`${task.id}-${task.updated_at}`}
            task={task}
            members={members(task.chat)}
            nameOf={props.nameOf}
            place={place(task.chat)}
            onOpenChat={() => props.onOpen(task.chat)}
            onChanged={() => void reload()}
          />
        ))}
      </div>
    </section>
  );
}
