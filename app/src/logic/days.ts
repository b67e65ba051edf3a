import type { Item } from "../bindings";

/** The local calendar day of `ms`, as "YYYY-MM-DD". */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  const m = String(d.getMonth() + 1).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, "0");
  return `${d.getFullYear()}-${m}-${day}`;
}

export type DayLabel = { kind: "today" } | { kind: "yesterday" } | { kind: "date"; ms: number };

/** How to name the day of `ms` as seen at `now`. */
export function dayLabel(ms: number, now: number): DayLabel {
  const today = dayKey(now);
  const key = dayKey(ms);
  if (key === today) return { kind: "today" };
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (key === dayKey(y.getTime())) return { kind: "yesterday" };
  return { kind: "date", ms };
}

export type Row =
  | { type: "day"; key: string; ms: number }
  | { type: "item"; key: string; item: Item };

/** Rows for a list of items (oldest first), a day separator before each new day. */
export function withDays(items: Item[]): Row[] {
  const rows: Row[] = [];
  let last = "";
  for (const item of items) {
    const k = dayKey(item.stamp);
    if (k !== last) {
      rows.push({ type: "day", key: `day:${k}`, ms: item.stamp });
      last = k;
    }
    rows.push({ type: "item", key: `${item.author}/${item.id}`, item });
  }
  return rows;
}
