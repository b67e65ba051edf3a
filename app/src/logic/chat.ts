import type { Chat, DisappearingState, Item, ItemBody, NotifyState } from "../bindings";

/** A stable key for a conversation. */
export function chatKey(c: Chat): string {
  return c.kind === "user" ? `u:${c.user}` : `g:${c.group}`;
}

/** What `data-chat` carries: the user id for 1:1, the group hex for groups. */
export function chatId(c: Chat): string {
  return c.kind === "user" ? c.user : c.group;
}

export function sameChat(a: Chat | null | undefined, b: Chat | null | undefined): boolean {
  return !!a && !!b && chatKey(a) === chatKey(b);
}

/** The key of a message: its author and the author's id of it. */
export function itemKey(author: string, id: string): string {
  return `${author}/${id}`;
}

export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"];

export function isImage(body: ItemBody): boolean {
  return body.kind === "file" && IMAGE_TYPES.includes(body.mime.toLowerCase());
}

/** Merges a freshly loaded latest page with what was loaded before (older pages stay). */
export function mergeLatest(loaded: Item[], latest: Item[]): Item[] {
  if (latest.length === 0) return loaded.length ? loaded : latest;
  const first = latest[0].stamp;
  const fresh = new Set(latest.map((i) => itemKey(i.author, i.id)));
  const older = loaded.filter((i) => i.stamp < first && !fresh.has(itemKey(i.author, i.id)));
  return [...older, ...latest];
}

/** Whether a conversation with these notification settings is silent at `now`. */
export function isQuiet(n: NotifyState | undefined, now: number): boolean {
  return !!n && (n.level === "none" || n.muted_until > now);
}

/** How long a conversation's messages last, in seconds: the shorter of its timer and the
 * org's maximum that are on; 0 for ever. */
export function effectiveTimer(d: DisappearingState | undefined): number {
  const on = d ? [d.secs, d.max_secs].filter((s) => s > 0) : [];
  return on.length ? Math.min(...on) : 0;
}
