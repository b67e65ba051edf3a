import { useMemo, useState, type KeyboardEvent, type RefObject } from "react";
import type { Chat, ChatSummary } from "../bindings";
import { useI18n } from "../I18nContext";
import { chatId, chatKey, isQuiet, sameChat } from "../logic/chat";
import { dayKey } from "../logic/days";
import { shortDate, timeOfDay } from "../logic/format";
import { previewText } from "../logic/preview";
import { normalise } from "../logic/search";

/** The conversation list: search by title, arrow keys move between conversations. */
export function ChatList(props: {
  convs: ChatSummary[];
  open: Chat | null;
  onOpen: (c: Chat) => void;
  searchRef: RefObject<HTMLInputElement | null>;
  now?: number;
}) {
  const { t, lang } = useI18n();
  const [query, setQuery] = useState("");
  const shown = useMemo(() => {
    const q = normalise(query.trim());
    return q ? props.convs.filter((c) => normalise(c.title).includes(q)) : props.convs;
  }, [props.convs, query]);

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const items = Array.from(e.currentTarget.querySelectorAll<HTMLElement>("[data-testid=chat-item]"));
    const at = items.indexOf(document.activeElement as HTMLElement);
    let next = -1;
    if (e.key === "ArrowDown") next = Math.min(items.length - 1, at + 1);
    else if (e.key === "ArrowUp") next = Math.max(0, at - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = items.length - 1;
    else return;
    e.preventDefault();
    items[next]?.focus();
  };

  const today = dayKey(props.now ?? Date.now());
  const openIdx = shown.findIndex((c) => sameChat(c.chat, props.open));

  return (
    <div className="chatlist">
      <input
        ref={props.searchRef}
        type="search"
        className="search"
        data-testid="chat-search"
        placeholder={t("chats.search")}
        aria-label={t("chats.search")}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            document.querySelector<HTMLElement>("[data-testid=chat-item]")?.focus();
          }
        }}
      />
      {props.convs.length === 0 ? (
        <p className="muted pad">{t("chats.empty")}</p>
      ) : shown.length === 0 ? (
        <p className="muted pad">{t("chats.noMatch")}</p>
      ) : null}
      <ul className="chats" data-testid="chat-list" aria-label={t("chats.listLabel")} onKeyDown={onKeyDown}>
        {shown.map((c, i) => {
          const active = sameChat(c.chat, props.open);
          const when = c.last ? c.last.stamp : c.active_at;
          const time = dayKey(when) === today ? timeOfDay(when, lang) : shortDate(when, lang);
          return (
            <li key={chatKey(c.chat)}>
              <button
                type="button"
                className={`chat-item ${active ? "active" : ""} ${c.unread > 0 ? "unread" : ""}`}
                data-testid="chat-item"
                data-chat={chatId(c.chat)}
                aria-current={active ? "true" : undefined}
                tabIndex={(openIdx === -1 ? i === 0 : active) ? 0 : -1}
                onClick={() => props.onOpen(c.chat)}
              >
                <span className="avatar" aria-hidden="true">
                  {c.chat.kind === "group" ? "#" : initials(c.title)}
                </span>
                <span className="chat-main">
                  <span className="chat-top">
                    <span className="chat-title">
                      {c.title}
                      {isQuiet(c.notify, Date.now()) && (
                        <span className="muted" data-testid="chat-muted" aria-label={t("conv.muted")} title={t("conv.muted")}>
                          {" "}
                          🔕
                        </span>
                      )}
                    </span>
                    <span className="chat-time">{c.last || c.active_at ? time : ""}</span>
                  </span>
                  <span className="chat-bottom">
                    <span className="chat-preview">{previewText(c.last, t)}</span>
                    {c.unread > 0 && (
                      <span className="badge" data-testid="unread-badge" aria-label={t("chats.unread", { count: c.unread })}>
                        {c.unread}
                      </span>
                    )}
                  </span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? "?").slice(0, 2);
  return s.toUpperCase();
}
