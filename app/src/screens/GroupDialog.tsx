import { useEffect, useState, type FormEvent } from "react";
import * as api from "../api";
import type { Chat, GroupDetails, Me, Person } from "../bindings";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Modal } from "../components/Modal";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";
import { PeoplePicker } from "../components/PeoplePicker";

/**
 * A group's members and admins. Its admins rename it, add and remove members, and make
 * members admins or take that back; anyone may leave (after a confirmation). Every change
 * is a signed group change the engine sends to every member.
 */
export function GroupDialog(props: {
  chat: Chat;
  me: Me;
  people: Person[];
  nameOf: (u: string) => string;
  onClose: () => void;
  /** The group changed (its name or members): the list is stale. */
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const { chat, me, nameOf, onChanged } = props;
  const [group, setGroup] = useState<GroupDetails | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmLeave, setConfirmLeave] = useState(false);

  useEffect(() => {
    api.groupDetails(chat).then(
      (g) => {
        setGroup(g);
        setName(g.name);
      },
      (e) => setError(errorText(t, e)),
    );
  }, [chat, t]);

  const change = async (kind: api.GroupChangeKind, members: string[], newName?: string) => {
    setBusy(true);
    setError(null);
    try {
      const g = await api.changeGroup(chat, kind, members, newName ?? null);
      setGroup(g);
      setName(g.name);
      onChanged();
      if (kind === "leave") props.onClose();
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  const admin = group?.admins.includes(me.user) ?? false;

  const rename = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() && group && name.trim() !== group.name) void change("rename", [], name.trim());
  };

  return (
    <Modal title={group?.name ?? t("group.members")} onClose={props.onClose} testId="group-dialog">
      {admin && group && (
        <form className="form inline" onSubmit={rename}>
          <label className="field">
            <span>{t("group.name")}</span>
            <input data-testid="group-rename-input" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <button type="submit" className="btn" data-testid="group-rename" disabled={busy || !name.trim() || name.trim() === group.name}>
            {t("group.rename")}
          </button>
        </form>
      )}
      {admin && group && (
        <label className="check">
          <input
            type="checkbox"
            data-testid="group-announcement"
            checked={group.announcement}
            disabled={busy}
            onChange={(e) => void change(e.target.checked ? "announce_on" : "announce_off", [])}
          />
          {t("group.announcement")}
        </label>
      )}
      {!admin && group?.announcement && <p className="muted small">{t("group.announcementOn")}</p>}
      <h3 className="section-title">{t("group.members")}</h3>
      <ul className="member-list" aria-label={t("group.members")}>
        {group?.members.map((u) => {
          const isAdmin = group.admins.includes(u);
          return (
            <li key={u} data-testid="group-member-row" data-user={u}>
              <span>
                {nameOf(u)} <span className="muted">({u})</span>
                {isAdmin && <span className="badge">{t("group.admin")}</span>}
              </span>
              {admin && u !== me.user && (
                <span className="row-actions">
                  <button
                    type="button"
                    className="btn small"
                    data-testid={isAdmin ? "group-demote" : "group-promote"}
                    disabled={busy}
                    onClick={() => void change(isAdmin ? "demote" : "promote", [u])}
                  >
                    {t(isAdmin ? "group.demote" : "group.promote")}
                  </button>
                  <button
                    type="button"
                    className="btn small danger"
                    data-testid="group-remove"
                    aria-label={t("group.removeNamed", { name: nameOf(u) })}
                    disabled={busy}
                    onClick={() => void change("remove", [u])}
                  >
                    {t("group.remove")}
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
      {admin && group && (
        <>
          <h3 className="section-title">{t("group.add")}</h3>
          <PeoplePicker
            people={props.people}
            exclude={(p) => group.members.includes(p.user)}
            item={(p) => (
              <>
                <span>
                  {p.display_name} <span className="muted">({p.user})</span>
                </span>
                <button
                  type="button"
                  className="btn small"
                  data-testid="group-add"
                  data-user={p.user}
                  disabled={busy}
                  onClick={() => void change("add", [p.user])}
                >
                  {t("group.addOne")}
                </button>
              </>
            )}
          />
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="modal-actions">
        <button type="button" className="btn danger" data-testid="group-leave" disabled={busy || !group} onClick={() => setConfirmLeave(true)}>
          {t("group.leave")}
        </button>
        <button type="button" className="btn" data-testid="group-close" onClick={props.onClose}>
          {t("common.close")}
        </button>
      </div>
      {confirmLeave && group && (
        <ConfirmDialog
          text={t("group.leaveConfirm", { name: group.name })}
          okLabel={t("group.leave")}
          onCancel={() => setConfirmLeave(false)}
          onConfirm={() => {
            setConfirmLeave(false);
            void change("leave", []);
          }}
        />
      )}
    </Modal>
  );
}
