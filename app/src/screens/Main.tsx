import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import * as api from "../api";
import type {
  Chat,
  ChatSummary,
  CommandError,
  Connection,
  Me,
  Person,
  PresenceDto,
  PresenceKind,
  StatusDto,
} from "../bindings";
import { useUiEvent } from "../events";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { chatKey, sameChat } from "../logic/chat";
import { unreadTotal, windowTitle } from "../logic/format";
import { previewText } from "../logic/preview";
import { Admin } from "./Admin";
import { ChatList } from "./ChatList";
import { Conversation } from "./Conversation";
import { Directory } from "./Directory";
import { NewGroupDialog } from "./NewGroupDialog";
import { Settings } from "./Settings";
import { Tasks } from "./Tasks";
import { deadlineText } from "../logic/tasks";

export type View = "chats" | "directory" | "tasks" | "admin" | "settings";

/** How long "… is typing" stays without a new notice. */
export const TYPING_SHOW_MS = 6000;

type DevicesBanner = { id: number; user: string; added: number; revoked: number };

/** The main window: sidebar (org, status, sections, conversations) and the open view. */
export function Main({ me }: { me: Me }) {
  const { t, lang } = useI18n();
  const [view, setView] = useState<View>("chats");
  const [convs, setConvs] = useState<ChatSummary[]>([]);
  const [people, setPeople] = useState<Person[]>([]);
  const [open, setOpen] = useState<Chat | null>(null);
  const [version, setVersion] = useState(0);
  const [taskVersion, setTaskVersion] = useState(0);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [banners, setBanners] = useState<DevicesBanner[]>([]);
  const [alarm, setAlarm] = useState<CommandError | null>(null);
  const [notices, setNotices] = useState<{ id: number; text: string }[]>([]);
  const [reminders, setReminders] = useState<{ id: number; text: string; chat: Chat }[]>([]);
  const [typing, setTyping] = useState<Record<string, string>>({});
  const [presence, setPresence] = useState<Record<string, PresenceDto>>({});
  const [statuses, setStatuses] = useState<Record<string, StatusDto>>({});
  const [newGroup, setNewGroup] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const typingTimers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const searchRef = useRef<HTMLInputElement>(null);
  const nextId = useRef(1);
  const openRef = useRef(open);
  openRef.current = open;
  const viewRef = useRef(view);
  viewRef.current = view;

  const reloadConvs = useCallback(async () => {
    try {
      setConvs(await api.conversations());
      setLoadError(null);
    } catch (e) {
      setLoadError(errorText(t, e));
    }
  }, [t]);
  const reloadPeople = useCallback(async () => {
    try {
      setPeople(await api.directory());
    } catch {
      /* the directory shows its own error */
    }
  }, []);

  useEffect(() => {
    void reloadConvs();
    void reloadPeople();
  }, [reloadConvs, reloadPeople]);

  // Colleagues' presence; ours follows the window's focus (the engine sends nothing while
  // the org's policy is off).
  useEffect(() => {
    api.presence().then(
      (list) => setPresence(Object.fromEntries(list.map((p) => [p.user, p]))),
      () => {},
    );
    const say = (state: PresenceKind) => void api.setPresence(state).catch(() => {});
    say(document.hasFocus() ? "online" : "away");
    const online = () => say("online");
    const away = () => say("away");
    window.addEventListener("focus", online);
    window.addEventListener("blur", away);
    return () => {
      window.removeEventListener("focus", online);
      window.removeEventListener("blur", away);
    };
  }, []);

  useEffect(() => {
    api.statuses().then(
      (list) => setStatuses(Object.fromEntries(list.map((s) => [s.user, s]))),
      () => {},
    );
  }, []);

  // The connection's state when this window opened (later changes come as events).
  useEffect(() => {
    api.connectionState().then(setConnection, () => {});
  }, []);

  useEffect(() => {
    const unread = unreadTotal(convs);
    api.setWindowTitle(windowTitle(unread));
    api.setUnreadBadge(unread);
  }, [convs]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        searchRef.current?.focus();
        searchRef.current?.select();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    const timers = typingTimers.current;
    return () => timers.forEach((h) => clearTimeout(h));
  }, []);

  const nameOf = useCallback(
    (u: string) => people.find((p) => p.user === u)?.display_name || (u === me.user ? me.display_name : u),
    [people, me],
  );

  const stopTyping = (key: string) => {
    const h = typingTimers.current.get(key);
    if (h) clearTimeout(h);
    typingTimers.current.delete(key);
    setTyping((m) => {
      if (!(key in m)) return m;
      const n = { ...m };
      delete n[key];
      return n;
    });
  };

  useUiEvent((e) => {
    switch (e.kind) {
      case "changed": {
        void reloadConvs();
        setTaskVersion((v) => v + 1);
        const isOpen = sameChat(e.chat, openRef.current) && viewRef.current === "chats";
        if (sameChat(e.chat, openRef.current)) setVersion((v) => v + 1);
        if (e.notify) {
          stopTyping(chatKey(e.chat));
          if (!api.windowFocused() || !isOpen) {
            void api.notify(nameOf(e.notify.author), previewText(e.notify, t));
          }
        }
        break;
      }
      case "task_reminder": {
        setTaskVersion((v) => v + 1);
        const id = nextId.current++;
        const title = t(e.reminder === "due" ? "task.reminderDue" : "task.reminderSoon", { title: e.task.title });
        const summary = convs.find((c) => sameChat(c.chat, e.task.chat));
        const place = summary?.title || (e.task.chat.kind === "user" ? nameOf(e.task.chat.user) : "");
        const body = t("task.reminderBody", {
          when: e.task.deadline === null ? "" : deadlineText(e.task.deadline, lang),
          place,
        });
        setReminders((r) => [...r, { id, text: `${title} (${body})`, chat: e.task.chat }]);
        void api.notify(title, body);
        break;
      }
      case "presence":
        setPresence((m) => ({ ...m, [e.presence.user]: e.presence }));
        break;
      case "status":
        setStatuses((m) => ({ ...m, [e.status.user]: e.status }));
        break;
      case "typing": {
        const key = chatKey(e.chat);
        if (!e.started) {
          stopTyping(key);
          break;
        }
        const old = typingTimers.current.get(key);
        if (old) clearTimeout(old);
        typingTimers.current.set(
          key,
          setTimeout(() => stopTyping(key), TYPING_SHOW_MS),
        );
        setTyping((m) => ({ ...m, [key]: e.user }));
        break;
      }
      case "devices_changed":
        setBanners((b) => [
          ...b,
          { id: nextId.current++, user: e.user, added: e.added.length, revoked: e.revoked.length },
        ]);
        void reloadPeople();
        break;
      case "trust_alarm":
        setAlarm(e.error);
        break;
      case "dropped": {
        const id = nextId.current++;
        const text = t("notice.dropped", { name: nameOf(e.from), message: errorText(t, e.error) });
        setNotices((n) => [...n, { id, text }]);
        setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 10000);
        break;
      }
      case "connection":
        setConnection(e.state);
        break;
      case "gone":
        break;
    }
  });

  const openChat = useCallback((c: Chat) => {
    setOpen(c);
    setView("chats");
  }, []);

  const summary = useMemo(() => convs.find((c) => sameChat(c.chat, open)), [convs, open]);

  const nav = (v: View, label: string) => (
    <button
      type="button"
      className={`nav-btn ${view === v ? "active" : ""}`}
      data-testid={`nav-${v}`}
      aria-current={view === v ? "page" : undefined}
      onClick={() => setView(v)}
    >
      {label}
    </button>
  );

  return (
    <div className="app">
      <aside className="sidebar">
        <header className="side-head">
          <div className="org-name" data-testid="org-name">
            {me.org_name}
          </div>
          <div className="me-line">
            <span className="me-name">{me.display_name}</span>
            <span className={`conn ${connection}`} data-testid="connection-status" data-state={connection} role="status">
              <span className="dot" aria-hidden="true" />
              {t(connection === "online" ? "conn.online" : "conn.connecting")}
            </span>
          </div>
        </header>
        <nav className="nav" aria-label={t("nav.label")}>
          {nav("chats", t("nav.chats"))}
          {nav("directory", t("nav.directory"))}
          {nav("tasks", t("nav.tasks"))}
          {me.admin && nav("admin", t("nav.admin"))}
          {nav("settings", t("nav.settings"))}
        </nav>
        <div className="side-actions">
          <button type="button" className="btn small" data-testid="new-group" onClick={() => setNewGroup(true)}>
            + {t("chats.newGroup")}
          </button>
        </div>
        <ChatList convs={convs} open={view === "chats" ? open : null} onOpen={openChat} searchRef={searchRef} />
      </aside>
      <main className="content">
        {alarm && (
          <div className="banner alarm" data-testid="trust-alarm-banner" role="alert">
            <strong>⚠ {t("banner.trustTitle")}</strong>
            <p>{t("banner.trust")}</p>
            <p className="small">{errorText(t, alarm)}</p>
            <button type="button" className="btn" onClick={() => setAlarm(null)}>
              {t("banner.ack")}
            </button>
          </div>
        )}
        {banners.map((b) => (
          <div key={b.id} className="banner warn" data-testid="devices-changed-banner" role="alert">
            <div>
              <strong>{t("banner.devicesChanged", { name: nameOf(b.user), added: b.added, revoked: b.revoked })}</strong>
              <p className="small">{t("banner.devicesHint")}</p>
            </div>
            <button
              type="button"
              className="icon-btn"
              aria-label={t("banner.dismiss")}
              title={t("banner.dismiss")}
              onClick={() => setBanners((all) => all.filter((x) => x.id !== b.id))}
            >
              ✕
            </button>
          </div>
        ))}
        {reminders.map((r) => (
          <div key={r.id} className="banner warn" data-testid="task-reminder" role="alert">
            <button
              type="button"
              className="link"
              onClick={() => {
                setReminders((all) => all.filter((x) => x.id !== r.id));
                openChat(r.chat);
              }}
            >
              ⏰ {r.text}
            </button>
            <button
              type="button"
              className="icon-btn"
              aria-label={t("banner.dismiss")}
              title={t("banner.dismiss")}
              onClick={() => setReminders((all) => all.filter((x) => x.id !== r.id))}
            >
              ✕
            </button>
          </div>
        ))}
        {notices.map((n) => (
          <div key={n.id} className="notice" role="status" data-testid="dropped-notice">
            {n.text}
          </div>
        ))}
        {loadError && (
          <p className="error pad" role="alert">
            {loadError}
          </p>
        )}
        {view === "chats" &&
          (open ? (
            <Conversation
              key={chatKey(open)}
              chat={open}
              me={me}
              people={people}
              summary={summary}
              nameOf={nameOf}
              version={version}
              typingUser={typing[chatKey(open)] ?? null}
              presence={open.kind === "user" ? (presence[open.user] ?? null) : null}
              status={open.kind === "user" ? (statuses[open.user] ?? null) : null}
              onActivity={reloadConvs}
            />
          ) : (
            <div className="placeholder">
              <h2>{t("conv.pick")}</h2>
              <p className="muted">{t("conv.pickHint")}</p>
            </div>
          ))}
        {view === "directory" && <Directory me={me} people={people} onMessage={(user) => openChat({ kind: "user", user })} />}
        {view === "tasks" && <Tasks me={me} convs={convs} nameOf={nameOf} version={taskVersion} onOpen={openChat} />}
        {view === "admin" && me.admin && <Admin me={me} people={people} reloadPeople={reloadPeople} />}
        {view === "settings" && (
          <Settings
            me={me}
            people={people}
            status={statuses[me.user] ?? null}
            onStatus={(s) => setStatuses((m) => ({ ...m, [me.user]: s }))}
          />
        )}
      </main>
      {newGroup && (
        <NewGroupDialog
          me={me}
          people={people}
          onClose={() => setNewGroup(false)}
          onCreated={(c) => {
            setNewGroup(false);
            void reloadConvs();
            openChat(c);
          }}
        />
      )}
    </div>
  );
}
