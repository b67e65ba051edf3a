import { useState, type FormEvent } from "react";
import * as api from "../api";
import type { Chat, Me, Person } from "../bindings";
import { Modal } from "../components/Modal";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { usePeopleSearch } from "../logic/search";

/** A new group: its name and members picked from the directory. */
export function NewGroupDialog(props: {
  me: Me;
  people: Person[];
  onClose: () => void;
  onCreated: (c: Chat) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [query, setQuery] = useState("");
  const [members, setMembers] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const candidates = usePeopleSearch(props.people, query, false).filter((p) => p.user !== props.me.user);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (members.size === 0) return setError(t("group.needMembers"));
    setBusy(true);
    try {
      props.onCreated(await api.createGroup(name.trim(), Array.from(members)));
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };

  const toggle = (u: string) =>
    setMembers((s) => {
      const n = new Set(s);
      if (n.has(u)) n.delete(u);
      else n.add(u);
      return n;
    });

  return (
    <Modal title={t("group.title")} onClose={props.onClose} testId="new-group-dialog">
      <form onSubmit={submit} className="form">
        <label className="field">
          <span>{t("group.name")}</span>
          <input data-testid="group-name" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset className="field">
          <legend>{t("group.members")}</legend>
          <input
            type="search"
            className="search"
            aria-label={t("dir.search")}
            placeholder={t("dir.search")}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <ul className="pick-list">
            {candidates.map((p) => (
              <li key={p.user}>
                <label>
                  <input
                    type="checkbox"
                    data-testid="group-member"
                    data-user={p.user}
                    checked={members.has(p.user)}
                    onChange={() => toggle(p.user)}
                  />{" "}
                  {p.display_name} <span className="muted">({p.user})</span>
                </label>
              </li>
            ))}
          </ul>
        </fieldset>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" className="btn primary" data-testid="group-create" disabled={busy || !name.trim()}>
            {t("group.create")}
          </button>
        </div>
      </form>
    </Modal>
  );
}
