import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import * as api from "../api";
import type { Chat, ChatSummary, Item, Me, Person, PresenceDto, StatusDto } from "../bindings";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Modal } from "../components/Modal";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { chatKey, effectiveTimer, isQuiet, mergeLatest } from "../logic/chat";
import { durationText, isShown, presenceText } from "../logic/format";
import { Composer, type Mode } from "./Composer";
import { GroupDialog } from "./GroupDialog";
import { MessageList } from "./MessageList";
import { DisappearDialog } from "./DisappearDialog";
import { NotifyDialog } from "./NotifyDialog";
import { TasksDialog } from "./TasksDialog";
import type { RowActions } from "./MessageRow";

export const PAGE = 200;

/** One open conversation: header, messages, composer. */
export function Conversation(props: {
  chat: Chat;
  me: Me;
  people: Person[];
  summary: ChatSummary | undefined;
  nameOf: (u: string) => string;
  /** Bumped when the engine says this conversation changed. */
  version: number;
  typingUser: string | null;
  /** The peer's presence, for a 1:1 conversation. */
  presence: PresenceDto | null;
  /** The peer's status text, for a 1:1 conversation. */
  status?: StatusDto | null;
  /** Something was sent or read: the conversation list is stale. */
  onActivity: () => void;
}) {
  const { t, lang } = useI18n();
  const { chat, nameOf, onActivity } = props;
  const key = chatKey(chat);
  const [items, setItems] = useState<Item[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>(null);
  const [confirmDelete, setConfirmDelete] = useState<Item | null>(null);
  const [safety, setSafety] = useState<string | null>(null);
  const [groupOpen, setGroupOpen] = useState(false);
  const [notifyOpen, setNotifyOpen] = useState(false);
  const [timerOpen, setTimerOpen] = useState(false);
  const [tasksOpen, setTasksOpen] = useState(false);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const chatRef = useRef(chat);
  chatRef.current = chat;

  const markRead = useCallback(async () => {
    try {
      await api.readChat(chatRef.current);
    } catch {
      /* best effort */
    }
    onActivity();
  }, [onActivity]);

  // Open: the latest page, and mark it read.
  useEffect(() => {
    let live = true;
    setItems([]);
    setMode(null);
    setError(null);
    setHasMore(false);
    api
      .timeline(chat, null, PAGE)
      .then((page) => {
        if (!live) return;
        setItems(page);
        setHasMore(page.length >= PAGE);
      })
      .catch((e) => live && setError(errorText(t, e)));
    void markRead();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  /** Reloads the latest rows (as many as are loaded, within reason), keeping older pages. */
  const refresh = useCallback(async () => {
    const c = chatRef.current;
    const limit = Math.min(1000, Math.max(PAGE, itemsRef.current.length));
    try {
      const page = await api.timeline(c, null, limit);
      if (chatKey(chatRef.current) !== chatKey(c)) return;
      setItems((old) => mergeLatest(old, page));
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [t]);

  // The engine said it changed: reload; read it when the window has the focus.
  const firstVersion = useRef(props.version);
  useEffect(() => {
    if (props.version === firstVersion.current) return;
    void refresh();
    if (api.windowFocused()) void markRead();
  }, [props.version, refresh, markRead]);

  // Coming back to the window reads what arrived meanwhile.
  useEffect(() => {
    const onFocus = () => {
      if ((props.summary?.unread ?? 0) > 0) void markRead();
    };
    window.addEventListener("focus", onFocus);
    return () => window.removeEventListener("focus", onFocus);
  }, [props.summary?.unread, markRead]);

  const loadOlder = useCallback(async () => {
    const oldest = itemsRef.current[0];
    if (!oldest) return;
    setLoadingOlder(true);
    try {
      const page = await api.timeline(chatRef.current, oldest.stamp, PAGE);
      setHasMore(page.length >= PAGE);
      setItems((old) => {
        const seen = new Set(old.map((i) => `${i.author}/${i.id}`));
        return [...page.filter((i) => !seen.has(`${i.author}/${i.id}`)), ...old];
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setLoadingOlder(false);
    }
  }, [t]);

  const afterSend = useCallback(() => {
    void refresh();
    onActivity();
  }, [refresh, onActivity]);

  const actions: RowActions = useMemo(
    () => ({
      onReply: (item) => setMode({ kind: "reply", item }),
      onEdit: (item) => setMode({ kind: "edit", item }),
      onDelete: (item) => setConfirmDelete(item),
      onReact: (item, emoji, remove) => {
        api
          .react(chatRef.current, { author: item.author, id: item.id }, emoji, remove)
          .then(() => refresh())
          .catch((e) => setError(errorText(t, e)));
      },
    }),
    [refresh, t],
  );

  const doDelete = async (item: Item) => {
    setConfirmDelete(null);
    try {
      await api.deleteMessage(chat, item.id);
      await refresh();
      onActivity();
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  const showSafety = async () => {
    if (chat.kind !== "user") return;
    try {
      setSafety(await api.safetyNumber(chat.user));
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  const title = props.summary?.title ?? (chat.kind === "user" ? nameOf(chat.user) : "…");
  const quiet = isQuiet(props.summary?.notify, Date.now());
  const timer = effectiveTimer(props.summary?.disappearing);
  const members = (() => {
    const list = props.summary?.members ?? (chat.kind === "user" ? [chat.user] : []);
    return list.includes(props.me.user) ? list : [props.me.user, ...list];
  })();

  return (
    <section className="conversation" aria-label={title}>
      <header className="conv-head">
        <div>
          <h2 className="conv-title" data-testid="conversation-title">
            {title}
          </h2>
          {chat.kind === "group" && props.summary && (
            <div className="muted small">{t("conv.members", { count: props.summary.members.length })}</div>
          )}
          {chat.kind === "user" && (
            <div className="muted small" data-testid="peer-presence">
              {chat.user}
              {props.presence && <> · {presenceText(props.presence, t, lang)}</>}
              {props.status && isShown(props.status) && (
                <span data-testid="peer-status"> · 🗒 {props.status.text}</span>
              )}
            </div>
          )}
        </div>
        <div className="conv-actions">
          <button
            type="button"
            className="btn"
            data-testid="tasks-button"
            aria-label={t("conv.tasks")}
            title={t("conv.tasks")}
            onClick={() => setTasksOpen(true)}
          >
            📋
          </button>
          <button
            type="button"
            className="btn"
            data-testid="timer-button"
            aria-label={t("conv.timer")}
            title={t("conv.timer")}
            onClick={() => setTimerOpen(true)}
          >
            ⏱{timer > 0 && <span className="small"> {durationText(timer, t)}</span>}
          </button>
          <button
            type="button"
            className="btn"
            data-testid="notify-button"
            aria-label={t("conv.notifications")}
            title={t("conv.notifications")}
            onClick={() => setNotifyOpen(true)}
          >
            {quiet ? "🔕" : "🔔"}
            {quiet && <span className="small"> {t("conv.muted")}</span>}
          </button>
          {chat.kind === "group" && (
            <button type="button" className="btn" data-testid="group-members-button" onClick={() => setGroupOpen(true)}>
              {t("group.manage")}
            </button>
          )}
          {chat.kind === "user" && (
            <button type="button" className="btn" data-testid="safety-number-button" onClick={showSafety}>
              🛡 {t("conv.safetyNumber")}
            </button>
          )}
        </div>
      </header>
      {error && (
        <p className="error pad" role="alert">
          {error}
        </p>
      )}
      {timerOpen && (
        <DisappearDialog
          chat={chat}
          title={title}
          current={props.summary?.disappearing ?? { secs: 0, max_secs: 0 }}
          onClose={() => setTimerOpen(false)}
          onChanged={afterSend}
        />
      )}
      {tasksOpen && (
        <TasksDialog
          chat={chat}
          title={title}
          me={props.me.user}
          members={members}
          nameOf={nameOf}
          version={props.version}
          onClose={() => setTasksOpen(false)}
          onChanged={afterSend}
        />
      )}
      {notifyOpen && (
        <NotifyDialog
          chat={chat}
          title={title}
          current={props.summary?.notify ?? { level: "all", muted_until: 0 }}
          onClose={() => setNotifyOpen(false)}
          onChanged={onActivity}
        />
      )}
      {groupOpen && (
        <GroupDialog
          chat={chat}
          me={props.me}
          people={props.people}
          nameOf={nameOf}
          onClose={() => setGroupOpen(false)}
          onChanged={onActivity}
        />
      )}
      <MessageList
        items={items}
        group={chat.kind === "group"}
        hasMore={hasMore}
        loadingOlder={loadingOlder}
        onLoadOlder={loadOlder}
        nameOf={nameOf}
        actions={actions}
        chatKey={key}
      />
      <div className="typing-line" aria-live="polite">
        {props.typingUser && (
          <span data-testid="typing-indicator">{t("composer.typing", { name: nameOf(props.typingUser) })}</span>
        )}
      </div>
      {props.summary?.read_only ? (
        <p className="composer read-only muted" data-testid="read-only">
          {t("conv.readOnly")}
        </p>
      ) : (
        <Composer
          chat={chat}
          mode={mode}
          onCancelMode={() => setMode(null)}
          onSent={afterSend}
          nameOf={nameOf}
          members={chat.kind === "group" ? members.filter((u) => u !== props.me.user) : []}
        />
      )}
      {confirmDelete && (
        <ConfirmDialog
          title={t("msg.deleteTitle")}
          text={t("msg.deleteConfirm")}
          okLabel={t("msg.delete")}
          onCancel={() => setConfirmDelete(null)}
          onConfirm={() => void doDelete(confirmDelete)}
        />
      )}
      {safety !== null && chat.kind === "user" && (
        <Modal title={t("safety.title", { name: title })} onClose={() => setSafety(null)}>
          <pre className="safety" data-testid="safety-number">
            {safety}
          </pre>
          <p>{t("safety.explain", { name: title })}</p>
          <div className="modal-actions">
            <button type="button" className="btn primary" onClick={() => setSafety(null)}>
              {t("common.close")}
            </button>
          </div>
        </Modal>
      )}
    </section>
  );
}
