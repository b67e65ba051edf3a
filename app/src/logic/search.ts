import { useEffect, useMemo, useState } from "react";
import * as api from "../api";
import type { Person } from "../bindings";

/** Unicode-aware lowercase with "ё" treated as "е" (and compatibility forms folded). */
export function normalise(s: string): string {
  return s.normalize("NFKC").toLocaleLowerCase().replace(/ё/g, "е");
}

/**
 * The people the engine's directory search finds for `query`, in its rank order (every word
 * starts a word of name, id, title, department, email or phone); dismissed colleagues only
 * with `former`. Until the first answer, and if the search fails, nobody.
 */
export function usePeopleSearch(people: Person[], query: string, former: boolean): Person[] {
  const [found, setFound] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    api.searchDirectory(query, former).then(
      (users) => live && setFound(users),
      () => live && setFound([]),
    );
    return () => {
      live = false;
    };
  }, [query, former, people]);
  return useMemo(() => {
    const byUser = new Map(people.map((p) => [p.user, p]));
    return found.flatMap((u) => byUser.get(u) ?? []);
  }, [found, people]);
}
