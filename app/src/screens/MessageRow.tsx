import { memo, useEffect, useState } from "react";
import * as api from "../api";
import type { Item } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { isImage } from "../logic/chat";
import { durationText, humanSize, timeOfDay } from "../logic/format";
import { groupChangeText } from "../logic/preview";
import { mentionRuns } from "../logic/mentions";
import { shortId, taskEventText } from "../logic/tasks";
import type { ReactionChip } from "../logic/reactions";

export const EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

const previews = new Map<string, Promise<string | null>>();

/** An image's preview (a data: URL), fetched once when first shown, then cached. */
export function loadPreview(author: string, id: string): Promise<string | null> {
  const key = `${author}/${id}`;
  let p = previews.get(key);
  if (!p) {
    p = api.imagePreview(author, id).catch(() => {
      previews.delete(key);
      return null;
    });
    previews.set(key, p);
  }
  return p;
}

export function clearPreviewCache(): void {
  previews.clear();
}

function ImagePreview({ author, id, name }: { author: string; id: string; name: string }) {
  const { t } = useI18n();
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void loadPreview(author, id).then((s) => live && setSrc(s));
    return () => {
      live = false;
    };
  }, [author, id]);
  if (!src) return <div className="image-placeholder" aria-hidden="true" />;
  return <img className="image-preview" data-testid="image-preview" src={src} alt={t("msg.imageAlt", { name })} />;
}

const STATUS_ICON: Record<string, string> = {
  sending: "🕓",
  sent: "✓",
  delivered: "✓✓",
  read: "✓✓",
  failed: "!",
};

export type RowActions = {
  onReply: (item: Item) => void;
  onEdit: (item: Item) => void;
  onDelete: (item: Item) => void;
  onReact: (item: Item, emoji: string, remove: boolean) => void;
};

/** One message: bubble, quote, file, reactions, status, and its actions. */
export const MessageRow = memo(function MessageRow(props: {
  item: Item;
  chips: ReactionChip[] | undefined;
  quoted: Item | undefined | null;
  group: boolean;
  nameOf: (u: string) => string;
  actions: RowActions;
}) {
  const { t, lang } = useI18n();
  const { item, actions } = props;
  const [picker, setPicker] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const b = item.body;

  if (b.kind === "group") {
    return (
      <div className="group-notice" data-testid="group-notice" data-id={item.id}>
        {groupChangeText(b.change, item.outgoing ? t("msg.you") : props.nameOf(item.author), props.nameOf, t)}
      </div>
    );
  }
  if (b.kind === "timer") {
    const actor = item.outgoing ? t("msg.you") : props.nameOf(item.author);
    return (
      <div className="group-notice" data-testid="timer-notice" data-id={item.id}>
        {b.secs === 0 ? t("timer.turnedOff", { actor }) : t("timer.set", { actor, time: durationText(b.secs, t) })}
      </div>
    );
  }
  if (b.kind === "task") {
    const actor = item.outgoing ? t("msg.you") : props.nameOf(item.author);
    return (
      <div className="task-notice" data-testid="task-notice" data-id={item.id} data-task={shortId(b.task)}>
        📋 {taskEventText(b.change, actor, b.title ?? t("task.untitled"), props.nameOf, t, lang)}
      </div>
    );
  }
  if (b.kind === "reaction") return null;

  const deleted = b.kind === "deleted";
  const replyTo = b.kind === "text" || b.kind === "file" ? b.reply_to : null;
  const mine = (emoji: string) => props.chips?.some((c) => c.emoji === emoji && c.mine) ?? false;

  const save = async () => {
    setSaved(null);
    try {
      const dir = await api.chooseFolder();
      if (!dir) return;
      const path = await api.saveFile(item.author, item.id, dir);
      setSaved(t("msg.savedTo", { path }));
    } catch (e) {
      setSaved(errorText(t, e));
    }
  };

  return (
    <div
      className={`msg ${item.outgoing ? "out" : "in"}`}
      data-testid="message"
      data-id={item.id}
      data-author={item.author}
      data-outgoing={item.outgoing ? "true" : "false"}
      data-status={item.status}
    >
      <div className="msg-line">
        <div className={`bubble ${deleted ? "deleted" : ""}`}>
          {props.group && !item.outgoing && <div className="author">{props.nameOf(item.author)}</div>}
          {replyTo && (
            <div className="quote">
              <div className="quote-author">{props.nameOf(replyTo.author)}</div>
              <div className="quote-text">{quoteText(props.quoted, t)}</div>
            </div>
          )}
          {b.kind === "text" && (
            <div className="text" data-testid="message-text">
              {mentionRuns(b.text).map((r, i) =>
                r.mention ? (
                  <span key={i} className="mention" data-testid="mention">
                    {r.text}
                  </span>
                ) : (
                  r.text
                ),
              )}
            </div>
          )}
          {b.kind === "deleted" && (
            <div className="text muted" data-testid="deleted-mark">
              {t("msg.deleted")}
            </div>
          )}
          {b.kind === "file" && (
            <div className="file">
              {isImage(b) && <ImagePreview author={item.author} id={item.id} name={b.name} />}
              <div className="file-row">
                <span className="file-icon" aria-hidden="true">
                  📎
                </span>
                <span className="file-info">
                  <span className="file-name" data-testid="file-name">
                    {b.name}
                  </span>
                  <span className="file-size muted">{humanSize(b.size, lang)}</span>
                </span>
                <button type="button" className="btn small" data-testid="save-file" onClick={save}>
                  {t("msg.save")}
                </button>
              </div>
              {b.caption && <div className="text">{b.caption}</div>}
              {saved && (
                <div className="saved muted" role="status">
                  {saved}
                </div>
              )}
            </div>
          )}
          <div className="meta">
            {item.edited && !deleted && (
              <span className="edited" data-testid="edited-mark">
                {t("msg.edited")}
              </span>
            )}
            <span className="time">{timeOfDay(item.sent_at, lang)}</span>
            {item.outgoing && STATUS_ICON[item.status] && (
              <span
                className={`status status-${item.status}`}
                role="img"
                aria-label={t(`status.${item.status as "sending" | "sent" | "delivered" | "read" | "failed"}`)}
                title={t(`status.${item.status as "sending" | "sent" | "delivered" | "read" | "failed"}`)}
              >
                {STATUS_ICON[item.status]}
              </span>
            )}
          </div>
        </div>
        {!deleted && (
          <div className="msg-actions" role="toolbar" aria-label={t("msg.actions")}>
            <button type="button" className="icon-btn" data-testid="action-reply" aria-label={t("msg.reply")} title={t("msg.reply")} onClick={() => actions.onReply(item)}>
              ↩
            </button>
            <button
              type="button"
              className="icon-btn"
              data-testid="action-react"
              aria-label={t("msg.react")}
              title={t("msg.react")}
              aria-expanded={picker}
              onClick={() => setPicker((p) => !p)}
            >
              ☺
            </button>
            {item.outgoing && b.kind === "text" && (
              <button type="button" className="icon-btn" data-testid="action-edit" aria-label={t("msg.edit")} title={t("msg.edit")} onClick={() => actions.onEdit(item)}>
                ✎
              </button>
            )}
            {item.outgoing && (
              <button type="button" className="icon-btn" data-testid="action-delete" aria-label={t("msg.delete")} title={t("msg.delete")} onClick={() => actions.onDelete(item)}>
                🗑
              </button>
            )}
          </div>
        )}
      </div>
      {picker && (
        <div
          className="emoji-picker"
          role="group"
          aria-label={t("msg.react")}
          onKeyDown={(e) => e.key === "Escape" && setPicker(false)}
        >
          {EMOJI.map((e) => (
            <button
              key={e}
              type="button"
              className="emoji-btn"
              data-testid={`emoji-${e}`}
              aria-label={t("msg.reactWith", { emoji: e })}
              onClick={() => {
                setPicker(false);
                actions.onReact(item, e, mine(e));
              }}
            >
              {e}
            </button>
          ))}
        </div>
      )}
      {props.chips && props.chips.length > 0 && (
        <div className="chips">
          {props.chips.map((c) => (
            <button
              key={c.emoji}
              type="button"
              className={`chip ${c.mine ? "mine" : ""}`}
              data-testid="reaction-chip"
              data-emoji={c.emoji}
              aria-pressed={c.mine}
              aria-label={c.mine ? t("msg.reactionChip", { emoji: c.emoji, count: c.count }) : t("msg.reactWith", { emoji: c.emoji })}
              onClick={() => actions.onReact(item, c.emoji, c.mine)}
            >
              {c.emoji} {c.count}
            </button>
          ))}
        </div>
      )}
    </div>
  );
});

function quoteText(quoted: Item | undefined | null, t: ReturnType<typeof useI18n>["t"]): string {
  if (!quoted) return t("msg.quoteMissing");
  const b = quoted.body;
  if (b.kind === "text") return b.text;
  if (b.kind === "file") return t("preview.file", { name: b.name });
  if (b.kind === "deleted") return t("msg.deleted");
  return t("msg.quoteMissing");
}
