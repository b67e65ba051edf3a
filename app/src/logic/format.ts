import type { ChatSummary, PresenceDto, StatusDto } from "../bindings";
import type { Lang, T } from "../i18n";

/** The total of unread messages. */
export function unreadTotal(list: ChatSummary[]): number {
  return list.reduce((n, c) => n + c.unread, 0);
}

/** The window title: "(3) Parley", or "Parley" when nothing is unread. */
export function windowTitle(unread: number): string {
  return unread > 0 ? `(${unread}) Parley` : "Parley";
}

/** A size in bytes for people: "512 B", "1.5 KB", "3.2 MB". */
export function humanSize(bytes: number, lang: Lang = "en"): string {
  const units = lang === "ru" ? ["Б", "КБ", "МБ", "ГБ", "ТБ"] : ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const n = u === 0 ? String(v) : v.toLocaleString(lang, { maximumFractionDigits: v < 10 ? 1 : 0 });
  return `${n} ${units[u]}`;
}

export function timeOfDay(ms: number, lang: Lang): string {
  return new Date(ms).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
}

export function longDate(ms: number, lang: Lang): string {
  return new Date(ms).toLocaleDateString(lang, { day: "numeric", month: "long", year: "numeric" });
}

export function shortDate(ms: number, lang: Lang): string {
  return new Date(ms).toLocaleDateString(lang, { day: "numeric", month: "short" });
}

/** The percentage done, 0–100, rounded down (100 only when all is done). */
export function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.min(100, Math.floor((done * 100) / total));
}

/** A timer in words, in its largest whole unit: "30 seconds", "8 hours", "7 days". */
export function durationText(secs: number, t: T): string {
  if (secs % 86_400 === 0) return t("dur.days", { count: secs / 86_400 });
  if (secs % 3600 === 0) return t("dur.hours", { count: secs / 3600 });
  if (secs % 60 === 0) return t("dur.minutes", { count: secs / 60 });
  return t("dur.seconds", { count: secs });
}

/** A colleague's presence in words: "online", "away", "last seen 10:42" (or a date). */
export function presenceText(p: PresenceDto, t: T, lang: Lang, now = Date.now()): string {
  if (p.state === "online") return t("presence.online");
  if (p.state === "away") return t("presence.away");
  if (p.last_seen === null) return t("presence.offline");
  const sameDay = new Date(p.last_seen).toDateString() === new Date(now).toDateString();
  const when = sameDay ? timeOfDay(p.last_seen, lang) : shortDate(p.last_seen, lang);
  return t("presence.lastSeen", { when });
}

/** Whether a status text is to be shown now: set, and not past its time. */
export function isShown(s: StatusDto, now = Date.now()): boolean {
  return s.text !== "" && (s.until === null || s.until > now);
}
