// @mentions in the composer: which word is being typed, and whom it may name. The engine
// turns `@user` words that name a member into structured mentions when it sends
// (client/src/messaging/notify.rs); this only helps type them.

/** What may follow an `@` while typing: a user id's characters, or letters of a name. */
const WORD = /^[\p{L}\p{N}._-]*$/u;

/** The `@word` that ends at `caret` in `text`: where its `@` is and what follows it. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0) return null;
  const prev = at === 0 ? " " : before[at - 1];
  if (!/\s|\(|\[/.test(prev)) return null;
  const query = before.slice(at + 1);
  if (!WORD.test(query) || query.length > 64) return null;
  return { start: at, query };
}

/**
 * The members a partly typed `@query` may name, best first: user ids that start with it,
 * then display names with a word that does; `all` first in a group when it matches. At most
 * `limit`.
 */
export function mentionCandidates(
  query: string,
  members: string[],
  nameOf: (u: string) => string,
  opts: { group: boolean; limit?: number } = { group: true },
): string[] {
  const q = query.toLowerCase();
  const byId = members.filter((u) => u.toLowerCase().startsWith(q));
  const byName = members.filter(
    (u) =>
      !byId.includes(u) &&
      nameOf(u)
        .toLowerCase()
        .split(/\s+/)
        .some((w) => w.startsWith(q)),
  );
  const all = opts.group && "all".startsWith(q) ? ["all"] : [];
  return [...all, ...byId, ...byName].slice(0, opts.limit ?? 6);
}

/** `text` with the `@word` at `start` (up to `caret`) replaced by `@user ` ; the new caret. */
export function insertMention(text: string, start: number, caret: number, user: string): { text: string; caret: number } {
  const inserted = `@${user} `;
  const rest = text.slice(caret).replace(/^[\p{L}\p{N}._-]*\s?/u, "");
  return { text: text.slice(0, start) + inserted + rest, caret: start + inserted.length };
}

/** `text` cut into plain runs and `@word` runs, for showing mentions. */
export function mentionRuns(text: string): { text: string; mention: boolean }[] {
  const runs: { text: string; mention: boolean }[] = [];
  const re = /(^|[\s([])(@[A-Za-z0-9._-]*[A-Za-z0-9])/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index + m[1].length;
    if (at > last) runs.push({ text: text.slice(last, at), mention: false });
    runs.push({ text: m[2], mention: true });
    last = at + m[2].length;
  }
  if (last < text.length) runs.push({ text: text.slice(last), mention: false });
  return runs;
}
