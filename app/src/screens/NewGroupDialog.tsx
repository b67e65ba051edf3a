import { useState } from "react";
import * as api from "../api";
import type { Chat, Me, Person } from "../bindings";
import { FormDialog } from "../components/FormDialog";
import { useI18n } from "../I18nContext";
import { PeoplePicker } from "../components/PeoplePicker";

/** A new group: its name and members picked from the directory. */
export function NewGroupDialog(props: {
  me: Me;
  people: Person[];
  onClose: () => void;
  onCreated: (c: Chat) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [members, setMembers] = useState<Set<string>>(new Set());

  const create = async () => {
    if (members.size === 0) throw t("group.needMembers");
    props.onCreated(await api.createGroup(name.trim(), Array.from(members)));
  };

  const toggle = (u: string) =>
    setMembers((s) => {
      const n = new Set(s);
      if (n.has(u)) n.delete(u);
      else n.add(u);
      return n;
    });

  return (
    <FormDialog
      title={t("group.title")}
      testId="new-group-dialog"
      saveLabel={t("group.create")}
      saveTestId="group-create"
      canSave={name.trim() !== ""}
      onClose={props.onClose}
      onSave={create}
    >
      <label className="field">
        <span>{t("group.name")}</span>
        <input data-testid="group-name" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <fieldset className="field">
        <legend>{t("group.members")}</legend>
        <PeoplePicker
          people={props.people}
          exclude={(p) => p.user === props.me.user}
          item={(p) => (
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
          )}
        />
      </fieldset>
    </FormDialog>
  );
}
