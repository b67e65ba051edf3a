import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useMemo, useRef } from "react";
import type { Item } from "../bindings";
import { useI18n } from "../I18nContext";
import { itemKey } from "../logic/chat";
import { dayLabel, withDays } from "../logic/days";
import { longDate } from "../logic/format";
import { foldReactions } from "../logic/reactions";
import { MessageRow, type RowActions } from "./MessageRow";

/**
 * The messages of a conversation, virtualised (only the rows in view are in the DOM).
 * Scrolling near the top asks for the page before; the view stays where it was. New
 * messages at the bottom keep the view at the bottom when it was there.
 */
export function MessageList(props: {
  items: Item[];
  group: boolean;
  hasMore: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  nameOf: (u: string) => string;
  actions: RowActions;
  chatKey: string;
}) {
  const { t, lang } = useI18n();
  const { rows, chips, byKey } = useMemo(() => {
    const folded = foldReactions(props.items);
    const byKey = new Map<string, Item>();
    for (const i of props.items) byKey.set(itemKey(i.author, i.id), i);
    return { rows: withDays(folded.rows), chips: folded.chips, byKey };
  }, [props.items]);

  const parentRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parentRef.current,
    estimateSize: (i) => (rows[i]?.type === "day" ? 40 : 72),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 10,
    initialRect: { width: 600, height: 600 },
    // A conversation opens at its newest message: start there, so that the first render
    // already holds the rows in view instead of the oldest ones.
    initialOffset: () => rows.reduce((sum, r) => sum + (r.type === "day" ? 40 : 72), 0),
  });

  const atBottom = useRef(true);
  const pendingOlder = useRef<{ total: number; top: number; first: string } | null>(null);
  const lastKey = rows.length ? rows[rows.length - 1].key : "";
  const firstKey = rows.length ? rows[0].key : "";

  // A new conversation: start at the bottom.
  useEffect(() => {
    atBottom.current = true;
    pendingOlder.current = null;
  }, [props.chatKey]);

  // Older rows were put on top: keep what was in view where it was.
  useLayoutEffect(() => {
    const p = pendingOlder.current;
    const el = parentRef.current;
    if (!p || !el || p.first === firstKey) return;
    pendingOlder.current = null;
    el.scrollTop = p.top + (virtualizer.getTotalSize() - p.total);
  }, [firstKey, virtualizer]);

  // New rows at the bottom: follow them when the view was at the bottom.
  useLayoutEffect(() => {
    if (atBottom.current && rows.length > 0) {
      virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
    }
  }, [lastKey, rows.length, virtualizer]);

  const onScroll = () => {
    const el = parentRef.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 150 && props.hasMore && !props.loadingOlder && !pendingOlder.current) {
      pendingOlder.current = { total: virtualizer.getTotalSize(), top: el.scrollTop, first: firstKey };
      props.onLoadOlder();
    }
  };

  const now = Date.now();
  const dayText = (ms: number) => {
    const l = dayLabel(ms, now);
    return l.kind === "today" ? t("day.today") : l.kind === "yesterday" ? t("day.yesterday") : longDate(ms, lang);
  };

  return (
    <div
      ref={parentRef}
      className="messages scroller"
      data-testid="message-list"
      onScroll={onScroll}
      tabIndex={0}
      role="log"
      aria-live="polite"
      aria-label={t("composer.label")}
    >
      {props.loadingOlder && <div className="loading-older muted">{t("conv.loadingOlder")}</div>}
      {rows.length === 0 && <div className="empty muted">{t("conv.empty")}</div>}
      <div className="messages-inner" style={{ height: virtualizer.getTotalSize() }}>
        {virtualizer.getVirtualItems().map((v) => {
          const row = rows[v.index];
          if (!row) return null;
          return (
            <div
              key={v.key}
              data-index={v.index}
              ref={virtualizer.measureElement}
              className="vrow"
              style={{ transform: `translateY(${v.start}px)` }}
            >
              {row.type === "day" ? (
                <div className="day-sep" role="separator">
                  <span>{dayText(row.ms)}</span>
                </div>
              ) : (
                <MessageRow
                  item={row.item}
                  chips={chips.get(row.key)}
                  quoted={quotedOf(row.item, byKey)}
                  group={props.group}
                  nameOf={props.nameOf}
                  actions={props.actions}
                />
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function quotedOf(item: Item, byKey: Map<string, Item>): Item | null {
  const b = item.body;
  const r = b.kind === "text" || b.kind === "file" ? b.reply_to : null;
  return r ? (byKey.get(itemKey(r.author, r.id)) ?? null) : null;
}
