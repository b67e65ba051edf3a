import { useEffect, useState, type FormEvent } from "react";
import * as api from "../api";
import type { AuditLine, Me, OrgPolicy, Person } from "../bindings";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { useI18n } from "../I18nContext";
import { errorText, hasKey, type T } from "../i18n";
import { longDate, timeOfDay } from "../logic/format";
import { useReason } from "./Devices";

type Tab = "users" | "invite" | "policy" | "audit";

/** The admin console: users and devices, invites, policy, the audit log. */
export function Admin(props: { me: Me; people: Person[]; reloadPeople: () => Promise<void> }) {
  const { t } = useI18n();
  const [tab, setTab] = useState<Tab>("users");
  const tabs: [Tab, string][] = [
    ["users", t("admin.users")],
    ["invite", t("admin.invite")],
    ["policy", t("admin.policy")],
    ["audit", t("admin.audit")],
  ];
  return (
    <section className="admin page" aria-label={t("admin.title")}>
      <h2>{t("admin.title")}</h2>
      <div className="tabs" role="tablist">
        {tabs.map(([k, label]) => (
          <button
            key={k}
            type="button"
            role="tab"
            aria-selected={tab === k}
            className={`tab ${tab === k ? "active" : ""}`}
            data-testid={`admin-tab-${k}`}
            onClick={() => setTab(k)}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="tabpanel">
        {tab === "users" && <Users me={props.me} people={props.people} reload={props.reloadPeople} />}
        {tab === "invite" && <Invite onDone={props.reloadPeople} />}
        {tab === "policy" && <Policy />}
        {tab === "audit" && <Audit people={props.people} />}
      </div>
    </section>
  );
}

type Pending =
  | { kind: "logout" | "lost" | "wipe"; person: Person; device: number }
  | { kind: "dismiss"; person: Person };

function Users({ me, people, reload }: { me: Me; people: Person[]; reload: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const reason = useReason();
  const [pending, setPending] = useState<Pending | null>(null);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const sorted = [...people].sort((a, b) => Number(a.dismissed) - Number(b.dismissed) || a.display_name.localeCompare(b.display_name));

  const run = async (p: Pending) => {
    setPending(null);
    setStatus(null);
    try {
      const user = p.person.user;
      if (p.kind === "dismiss") await api.dismissUser(user);
      else if (p.kind === "wipe") await api.orderWipe(user, p.device);
      else await api.revokeDevice(user, p.device, p.kind);
      setStatus({ ok: true, text: t("admin.done") });
      await reload();
    } catch (e) {
      setStatus({ ok: false, text: errorText(t, e) });
    }
  };

  const setPoster = async (p: Person, poster: boolean) => {
    setStatus(null);
    try {
      await api.setPoster(p.user, poster);
      setStatus({ ok: true, text: t("admin.done") });
      await reload();
    } catch (e) {
      setStatus({ ok: false, text: errorText(t, e) });
    }
  };

  const confirmText = (p: Pending) => {
    const base = { name: p.person.display_name || p.person.user, user: p.person.user };
    return p.kind === "dismiss" ? t("confirm.dismiss", base) : t(`confirm.${p.kind}`, { ...base, device: p.device });
  };

  return (
    <div>
      {status && (
        <p className={status.ok ? "ok-text" : "error"} role={status.ok ? "status" : "alert"}>
          {status.text}
        </p>
      )}
      <ul className="admin-users">
        {sorted.map((p) => (
          <li key={p.user} className={`admin-user card ${p.dismissed ? "former" : ""}`} data-testid="admin-user" data-user={p.user}>
            <div className="admin-user-head">
              <div>
                <strong>{p.display_name || p.user}</strong> <span className="muted">({p.user})</span>
                {p.admin && <span className="pill">{t("dir.admin")}</span>}
                {p.dismissed && <span className="pill bad">{t("dir.former")}</span>}
                <div className="muted small">{[p.title, p.department, p.email].filter(Boolean).join(" · ")}</div>
                {!p.admin && !p.dismissed && (
                  <label className="check small">
                    <input
                      type="checkbox"
                      data-testid="user-poster"
                      checked={p.poster}
                      onChange={(e) => void setPoster(p, e.target.checked)}
                    />
                    {t("admin.poster")}
                  </label>
                )}
              </div>
              {!p.dismissed && p.user !== me.user && (
                <button type="button" className="btn danger small" data-testid="user-dismiss" onClick={() => setPending({ kind: "dismiss", person: p })}>
                  {t("admin.dismiss")}
                </button>
              )}
            </div>
            {p.devices.length === 0 ? (
              <p className="muted small">{t("admin.noDevices")}</p>
            ) : (
              <table className="device-table">
                <tbody>
                  {p.devices.map((d) => (
                    <tr key={d.device} data-testid="device-row" data-user={p.user} data-device={d.device} data-revoked={d.revoked ?? ""}>
                      <td>{t("dir.device", { n: d.device })}</td>
                      <td className="muted">
                        {t("dir.addedOn", { date: `${longDate(d.added_at, lang)} ${timeOfDay(d.added_at, lang)}` })}
                      </td>
                      <td>
                        {d.revoked ? (
                          <span className="pill bad">{t("dir.revoked", { reason: reason(d.revoked) })}</span>
                        ) : (
                          <span className="pill ok">{t("dir.active")}</span>
                        )}
                      </td>
                      <td className="device-actions">
                        {!d.revoked && (
                          <>
                            <button type="button" className="btn small" data-testid="device-logout" onClick={() => setPending({ kind: "logout", person: p, device: d.device })}>
                              {t("admin.signOut")}
                            </button>
                            <button type="button" className="btn small" data-testid="device-revoke" onClick={() => setPending({ kind: "lost", person: p, device: d.device })}>
                              {t("admin.revokeLost")}
                            </button>
                            <button type="button" className="btn small danger" data-testid="device-wipe" onClick={() => setPending({ kind: "wipe", person: p, device: d.device })}>
                              {t("admin.wipe")}
                            </button>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ul>
      {pending && (
        <ConfirmDialog
          text={confirmText(pending)}
          okLabel={t(`confirm.${pending.kind}Ok`)}
          onCancel={() => setPending(null)}
          onConfirm={() => void run(pending)}
        />
      )}
    </div>
  );
}

function Invite({ onDone }: { onDone: () => Promise<void> }) {
  const { t } = useI18n();
  const [f, setF] = useState({ user: "", displayName: "", email: "", title: "", department: "", admin: false });
  const [result, setResult] = useState<{ name: string; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCopied(false);
    try {
      const text = await api.inviteUser({ ...f, user: f.user.trim(), displayName: f.displayName.trim() });
      setResult({ name: f.displayName.trim() || f.user.trim(), text });
      void onDone();
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };

  const field = (k: "user" | "displayName" | "email" | "title" | "department", label: string, testId: string) => (
    <label className="field">
      <span>{label}</span>
      <input data-testid={testId} value={f[k]} onChange={(e) => setF({ ...f, [k]: e.target.value })} />
    </label>
  );

  const copy = async () => {
    if (!result) return;
    try {
      await navigator.clipboard.writeText(result.text);
      setCopied(true);
    } catch {
      const el = document.querySelector<HTMLTextAreaElement>("[data-testid=invite-text]");
      el?.select();
    }
  };

  return (
    <div className="invite">
      <form onSubmit={submit} className="form">
        {field("user", t("invite.user"), "invite-user")}
        {field("displayName", t("invite.displayName"), "invite-display-name")}
        {field("email", t("invite.email"), "invite-email")}
        {field("title", t("invite.title"), "invite-title")}
        {field("department", t("invite.department"), "invite-department")}
        <label className="check">
          <input type="checkbox" data-testid="invite-admin" checked={f.admin} onChange={(e) => setF({ ...f, admin: e.target.checked })} />{" "}
          {t("invite.admin")}
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row-actions">
          <button type="submit" className="btn primary" data-testid="invite-submit" disabled={busy || !f.user.trim()}>
            {t("invite.submit")}
          </button>
        </div>
      </form>
      {result && (
        <div className="invite-result card">
          <h3>{t("invite.result", { name: result.name })}</h3>
          <p>{t("invite.handOver", { name: result.name })}</p>
          <textarea readOnly data-testid="invite-text" rows={5} value={result.text} aria-label={t("invite.result", { name: result.name })} onFocus={(e) => e.currentTarget.select()} />
          <div className="row-actions">
            <button type="button" className="btn" data-testid="invite-copy" onClick={copy}>
              {copied ? t("common.copied") : t("common.copy")}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

const HOUR = 3600;

function Policy() {
  const { t } = useI18n();
  const [p, setP] = useState<OrgPolicy | null>(null);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    api
      .policy()
      .then(setP)
      .catch((e) => setStatus({ ok: false, text: errorText(t, e) }));
  }, [t]);

  if (!p) return status ? <p className="error">{status.text}</p> : <p className="muted">{t("common.loading")}</p>;

  const hours = (k: "offline_lock_secs" | "offline_wipe_secs" | "max_disappearing_secs", label: string, testId: string) => (
    <label className="field">
      <span>{label}</span>
      <input
        type="number"
        min={0}
        step="any"
        data-testid={testId}
        value={Math.round((p[k] / HOUR) * 100) / 100}
        onChange={(e) => setP({ ...p, [k]: Math.max(0, Math.round(Number(e.target.value || 0) * HOUR)) })}
      />
    </label>
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setStatus(null);
    try {
      await api.setPolicy(p);
      setStatus({ ok: true, text: t("policy.saved") });
    } catch (err) {
      setStatus({ ok: false, text: errorText(t, err) });
    }
  };

  return (
    <form className="form" onSubmit={submit}>
      {hours("offline_lock_secs", t("policy.lockHours"), "policy-lock")}
      {hours("offline_wipe_secs", t("policy.wipeHours"), "policy-wipe")}
      {hours("max_disappearing_secs", t("policy.maxDisappearing"), "policy-disappearing")}
      <label className="check">
        <input type="checkbox" data-testid="policy-remote-secret" checked={p.remote_secret} onChange={(e) => setP({ ...p, remote_secret: e.target.checked })} />{" "}
        {t("policy.remoteSecret")}
      </label>
      <label className="check">
        <input type="checkbox" data-testid="policy-presence" checked={p.presence} onChange={(e) => setP({ ...p, presence: e.target.checked })} />{" "}
        {t("policy.presence")}
      </label>
      {status && (
        <p className={status.ok ? "ok-text" : "error"} role={status.ok ? "status" : "alert"}>
          {status.text}
        </p>
      )}
      <div className="row-actions">
        <button type="submit" className="btn primary" data-testid="policy-save">
          {t("policy.save")}
        </button>
      </div>
    </form>
  );
}

/** An audit line in words. */
export function auditText(l: AuditLine, nameOf: (u: string) => string, t: T, reason: (r: string) => string): string {
  const key = `audit.kind.${l.kind}`;
  const params = {
    user: l.user ? `${nameOf(l.user)} (${l.user})` : "—",
    device: l.device ?? "—",
    detail: l.kind === "device-revoked" && l.detail ? reason(l.detail) : (l.detail ?? ""),
    kind: l.kind,
  };
  return hasKey(key) ? t(key, params) : t("audit.kind.other", params);
}

export function signerText(signer: string, nameOf: (u: string) => string, t: T): string {
  if (signer === "root") return t("audit.signer.root");
  if (signer === "invite_key") return t("audit.signer.invite_key");
  const dot = signer.lastIndexOf(".");
  if (dot > 0) {
    const user = signer.slice(0, dot);
    return `${nameOf(user)} (${t("dir.device", { n: signer.slice(dot + 1) })})`;
  }
  return signer;
}

function Audit({ people }: { people: Person[] }) {
  const { t, lang } = useI18n();
  const reason = useReason();
  const [lines, setLines] = useState<AuditLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .audit()
      .then((l) => setLines([...l].sort((a, b) => b.seq - a.seq)))
      .catch((e) => setError(errorText(t, e)));
  }, [t]);
  const nameOf = (u: string) => people.find((p) => p.user === u)?.display_name || u;
  if (error) return <p className="error">{error}</p>;
  if (!lines) return <p className="muted">{t("common.loading")}</p>;
  if (lines.length === 0) return <p className="muted">{t("audit.empty")}</p>;
  return (
    <ol className="audit" reversed>
      {lines.map((l) => (
        <li key={l.seq} className={`audit-line kind-${l.kind}`} data-testid="audit-line" data-kind={l.kind}>
          <span className="audit-when muted">
            {longDate(l.at, lang)} {timeOfDay(l.at, lang)}
          </span>
          <span className="audit-what">
            {l.kind === "wipe-done" && (
              <span className="check-mark" aria-hidden="true">
                ✔{" "}
              </span>
            )}
            {auditText(l, nameOf, t, reason)}
          </span>
          <span className="audit-signer muted small">{t("audit.signedBy", { signer: signerText(l.signer, nameOf, t) })}</span>
        </li>
      ))}
    </ol>
  );
}
