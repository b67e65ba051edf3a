import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import * as api from "../api";
import type { Chat, Item } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { percent } from "../logic/format";
import { insertMention, mentionAt, mentionCandidates } from "../logic/mentions";

export type Mode = { kind: "reply"; item: Item } | { kind: "edit"; item: Item } | null;

/** How often "typing" is told again while typing, and after how long idle it stops. */
export const TYPING_REPEAT_MS = 4000;
export const TYPING_IDLE_MS = 5000;

/**
 * The composer: Enter sends, Shift+Enter is a new line, Escape cancels a reply or an edit.
 * Attach sends a file with a progress bar. In 1:1 chats it tells the peer when typing.
 */
export function Composer(props: {
  chat: Chat;
  mode: Mode;
  onCancelMode: () => void;
  onSent: () => void;
  nameOf: (u: string) => string;
  /** Who may be @mentioned: the group's other members (none in a 1:1 chat). */
  members?: string[];
}) {
  const { t } = useI18n();
  const { chat, mode } = props;
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [upload, setUpload] = useState<{ name: string; done: number; total: number } | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const lastTyping = useRef(0);
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const hideUpload = useRef<ReturnType<typeof setTimeout> | null>(null);
  const chatRef = useRef(chat);
  chatRef.current = chat;
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const typed = props.members?.length ? mentionAt(text, caret) : null;
  const suggestions =
    typed && typed.start !== closedAt
      ? mentionCandidates(typed.query, props.members ?? [], props.nameOf, { group: chat.kind === "group" })
      : [];
  // The caret goes after an inserted mention as the new text is rendered, before any further
  // key is handled (a frame later, a fast typist's next letter could land before it).
  const placeCaret = useRef<number | null>(null);
  useLayoutEffect(() => {
    if (placeCaret.current === null) return;
    input.current?.setSelectionRange(placeCaret.current, placeCaret.current);
    placeCaret.current = null;
  }, [text]);
  const pick = (user: string) => {
    if (!typed) return;
    const next = insertMention(text, typed.start, caret, user);
    setText(next.text);
    setCaret(next.caret);
    setActive(0);
    placeCaret.current = next.caret;
  };

  const stopTyping = () => {
    if (idle.current) clearTimeout(idle.current);
    idle.current = null;
    if (lastTyping.current && chatRef.current.kind === "user") {
      void api.typing(chatRef.current, false).catch(() => {});
    }
    lastTyping.current = 0;
  };

  // A different conversation: stop typing in the old one; start empty.
  useEffect(() => {
    setText("");
    setError(null);
    return () => stopTyping();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [chat.kind === "user" ? chat.user : chat.group]);

  useEffect(
    () => () => {
      if (hideUpload.current) clearTimeout(hideUpload.current);
    },
    [],
  );

  // Edit mode puts the message's text in; reply mode focuses.
  useEffect(() => {
    if (mode?.kind === "edit" && mode.item.body.kind === "text") setText(mode.item.body.text);
    if (mode) input.current?.focus();
  }, [mode]);

  const onChange = (v: string) => {
    setText(v);
    if (chat.kind !== "user") return;
    const now = Date.now();
    if (v.length > 0 && now - lastTyping.current >= TYPING_REPEAT_MS) {
      lastTyping.current = now;
      void api.typing(chat, true).catch(() => {});
    }
    if (idle.current) clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const send = async () => {
    const body = text.trim();
    if (!body) return;
    setError(null);
    stopTyping();
    try {
      if (mode?.kind === "edit") {
        await api.editMessage(chat, mode.item.id, body);
      } else {
        const replyTo = mode?.kind === "reply" ? { author: mode.item.author, id: mode.item.id } : null;
        await api.sendText(chat, body, replyTo);
      }
      setText("");
      props.onCancelMode();
      props.onSent();
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (suggestions.length > 0 && !e.nativeEvent.isComposing) {
      const n = suggestions.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setActive((a) => (a + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(suggestions[Math.min(active, n - 1)]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setClosedAt(typed?.start ?? null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === "Escape" && mode) {
      e.preventDefault();
      if (mode.kind === "edit") setText("");
      props.onCancelMode();
    }
  };

  const attach = async () => {
    setError(null);
    try {
      const path = await api.chooseFile();
      if (!path) return;
      const name = path.split(/[\\/]/).pop() ?? path;
      if (hideUpload.current) clearTimeout(hideUpload.current);
      setUpload({ name, done: 0, total: 0 });
      const replyTo = mode?.kind === "reply" ? mode.item : null;
      await api.sendFile(chat, path, null, (p) => setUpload({ name, done: p.done, total: p.total }));
      setUpload((u) => (u ? { ...u, done: u.total || 1, total: u.total || 1 } : u));
      hideUpload.current = setTimeout(() => setUpload(null), 4000);
      if (replyTo) props.onCancelMode();
      props.onSent();
    } catch (e) {
      setUpload(null);
      setError(errorText(t, e));
    }
  };

  const pct = upload ? percent(upload.done, upload.total) : 0;

  return (
    <div className="composer">
      {mode && (
        <div className="composer-mode">
          <span>
            {mode.kind === "edit"
              ? t("composer.editing")
              : t("composer.replyingTo", { name: mode.item.outgoing ? t("msg.you") : props.nameOf(mode.item.author) })}
            {mode.item.body.kind === "text" && <span className="muted mode-text"> — {mode.item.body.text}</span>}
          </span>
          <button
            type="button"
            className="icon-btn"
            aria-label={t("composer.cancel")}
            title={t("composer.cancel")}
            onClick={() => {
              if (mode.kind === "edit") setText("");
              props.onCancelMode();
            }}
          >
            ✕
          </button>
        </div>
      )}
      {upload && (
        <div className="upload" role="status">
          <span className="upload-name">{t("composer.upload", { name: upload.name })}</span>
          <progress data-testid="upload-progress" value={upload.done} max={upload.total || 1} />
          <span className="upload-percent" data-testid="upload-percent">
            {pct} %
          </span>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {suggestions.length > 0 && (
        <ul className="mention-list" role="listbox" data-testid="mention-list" aria-label={t("composer.mention")}>
          {suggestions.map((u, i) => (
            <li
              key={u}
              role="option"
              aria-selected={i === Math.min(active, suggestions.length - 1)}
              data-testid="mention-option"
              data-user={u}
              className={i === Math.min(active, suggestions.length - 1) ? "active" : ""}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(u);
              }}
            >
              <strong>@{u}</strong>
              {u === "all" ? <span className="muted"> — {t("composer.mentionAll")}</span> : <span className="muted"> — {props.nameOf(u)}</span>}
            </li>
          ))}
        </ul>
      )}
      <div className="composer-row">
        <button
          type="button"
          className="icon-btn attach"
          data-testid="attach-button"
          aria-label={t("composer.attach")}
          title={t("composer.attach")}
          onClick={attach}
          disabled={mode?.kind === "edit"}
        >
          📎
        </button>
        <textarea
          ref={input}
          className="composer-input"
          data-testid="composer-input"
          rows={1}
          placeholder={t("composer.placeholder")}
          aria-label={t("composer.label")}
          value={text}
          onChange={(e) => {
            onChange(e.target.value);
            setCaret(e.target.selectionStart ?? e.target.value.length);
            setActive(0);
            setClosedAt(null);
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onKeyDown={onKeyDown}
          aria-autocomplete="list"
          aria-expanded={suggestions.length > 0}
        />
        <button
          type="button"
          className="btn primary send"
          data-testid="send-button"
          onClick={() => void send()}
          disabled={!text.trim()}
        >
          {t("composer.send")}
        </button>
      </div>
    </div>
  );
}
