import type { Item } from "../bindings";
import { itemKey } from "./chat";

export type ReactionChip = { emoji: string; count: number; mine: boolean };

/**
 * Folds the reaction rows of a timeline onto their targets. Rows are taken in timeline
 * order; for each (target, emoji, reacting author) an add counts once and a `remove` takes
 * it back. Returns the rows to show (no reaction rows) and the chips per target key.
 */
export function foldReactions(items: Item[]): { rows: Item[]; chips: Map<string, ReactionChip[]> } {
  // target key -> emoji -> set of authors (insertion ordered)
  const state = new Map<string, Map<string, Map<string, boolean>>>();
  const rows: Item[] = [];
  for (const item of items) {
    const b = item.body;
    if (b.kind !== "reaction") {
      rows.push(item);
      continue;
    }
    const target = itemKey(b.target.author, b.target.id);
    let byEmoji = state.get(target);
    if (!byEmoji) state.set(target, (byEmoji = new Map()));
    let authors = byEmoji.get(b.emoji);
    if (!authors) byEmoji.set(b.emoji, (authors = new Map()));
    if (b.remove) authors.delete(item.author);
    else authors.set(item.author, item.outgoing);
  }
  const chips = new Map<string, ReactionChip[]>();
  for (const [target, byEmoji] of state) {
    const list: ReactionChip[] = [];
    for (const [emoji, authors] of byEmoji) {
      if (authors.size === 0) continue;
      let mine = false;
      for (const outgoing of authors.values()) if (outgoing) mine = true;
      list.push({ emoji, count: authors.size, mine });
    }
    if (list.length) chips.set(target, list);
  }
  return { rows, chips };
}
