import type { Person } from "../bindings";

/** Unicode-aware lowercase with "ё" treated as "е" (and compatibility forms folded). */
export function normalise(s: string): string {
  return s.normalize("NFKC").toLocaleLowerCase().replace(/ё/g, "е");
}

/** The words of a text (split on anything that is not a letter or digit). */
export function words(s: string): string[] {
  return normalise(s)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** Whether every word of `query` starts some word of `fields`. An empty query matches. */
export function matches(query: string, fields: string[]): boolean {
  const q = words(query);
  if (q.length === 0) return true;
  const hay = fields.flatMap(words);
  return q.every((w) => hay.some((h) => h.startsWith(w)));
}

export function personFields(p: Person): string[] {
  return [p.display_name, p.user, p.email, p.title, p.department];
}

/** The directory filtered by `query`; dismissed colleagues only with `showFormer`. */
export function searchPeople(people: Person[], query: string, showFormer: boolean): Person[] {
  return people
    .filter((p) => (showFormer || !p.dismissed) && matches(query, personFields(p)))
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
}
