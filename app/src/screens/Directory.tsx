import { useState } from "react";
import type { Me, Person } from "../bindings";
import { useI18n } from "../I18nContext";
import { usePeopleSearch } from "../logic/search";
import { initials } from "./ChatList";
import { DeviceList } from "./Devices";

/** The org's directory: search, details and devices, and "Message". */
export function Directory(props: { me: Me; people: Person[]; onMessage: (user: string) => void }) {
  const { t } = useI18n();
  const [query, setQuery] = useState("");
  const [former, setFormer] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const found = usePeopleSearch(props.people, query, former);
  const person = props.people.find((p) => p.user === selected) ?? null;

  return (
    <section className="directory split" aria-label={t("nav.directory")}>
      <div className="split-list">
        <h2>{t("nav.directory")}</h2>
        <input
          type="search"
          className="search"
          data-testid="directory-search"
          placeholder={t("dir.search")}
          aria-label={t("dir.search")}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label className="check">
          <input type="checkbox" checked={former} onChange={(e) => setFormer(e.target.checked)} data-testid="show-former" />{" "}
          {t("dir.showFormer")}
        </label>
        <p className="muted small" aria-live="polite">
          {found.length === 0 ? t("dir.noResults") : t("dir.count", { count: found.length })}
        </p>
        <ul className="people">
          {found.map((p) => (
            <li key={p.user}>
              <button
                type="button"
                className={`person ${selected === p.user ? "active" : ""} ${p.dismissed ? "former" : ""}`}
                data-testid="person"
                data-user={p.user}
                aria-current={selected === p.user ? "true" : undefined}
                onClick={() => setSelected(p.user)}
              >
                <span className="avatar" aria-hidden="true">
                  {initials(p.display_name || p.user)}
                </span>
                <span className="person-main">
                  <span className="person-name">
                    {p.display_name || p.user}
                    {p.admin && <span className="pill">{t("dir.admin")}</span>}
                    {p.dismissed && <span className="pill bad">{t("dir.former")}</span>}
                  </span>
                  <span className="muted small">{[p.title, p.department].filter(Boolean).join(" · ")}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      </div>
      <div className="split-detail">
        {person ? (
          <div className="person-detail" data-testid="person-detail">
            <h2>{person.display_name || person.user}</h2>
            <p className="muted">{person.user}</p>
            <dl className="facts">
              {person.title && (
                <>
                  <dt>{t("dir.title")}</dt>
                  <dd>{person.title}</dd>
                </>
              )}
              {person.department && (
                <>
                  <dt>{t("dir.department")}</dt>
                  <dd>{person.department}</dd>
                </>
              )}
              {person.email && (
                <>
                  <dt>{t("dir.email")}</dt>
                  <dd>{person.email}</dd>
                </>
              )}
              {person.phone && (
                <>
                  <dt>{t("dir.phone")}</dt>
                  <dd>{person.phone}</dd>
                </>
              )}
            </dl>
            {person.user !== props.me.user && !person.dismissed && (
              <button
                type="button"
                className="btn primary"
                data-testid="message-person"
                onClick={() => props.onMessage(person.user)}
              >
                {t("dir.message")}
              </button>
            )}
            <h3>{t("dir.devices")}</h3>
            <DeviceList devices={person.devices} />
          </div>
        ) : (
          <p className="muted placeholder">{t("dir.select")}</p>
        )}
      </div>
    </section>
  );
}
