import { useState, type ReactNode } from "react";
import type { Person } from "../bindings";
import { useI18n } from "../I18nContext";
import { usePeopleSearch } from "../logic/search";

/**
 * Colleagues to pick from: a search box (the engine's directory search) and the people it
 * finds, best first, each rendered by `item`; `exclude` leaves some out (oneself, members).
 */
export function PeoplePicker(props: {
  people: Person[];
  exclude: (p: Person) => boolean;
  item: (p: Person) => ReactNode;
}) {
  const { t } = useI18n();
  const [query, setQuery] = useState("");
  const found = usePeopleSearch(props.people, query, false).filter((p) => !props.exclude(p));
  return (
    <>
      <input
        type="search"
        className="search"
        aria-label={t("dir.search")}
        placeholder={t("dir.search")}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <ul className="pick-list">
        {found.map((p) => (
          <li key={p.user}>{props.item(p)}</li>
        ))}
      </ul>
    </>
  );
}
