import { useEffect, useState, type FormEvent } from "react";
import * as api from "../api";
import type { InvitePreview, Me } from "../bindings";
import { useI18n } from "../I18nContext";
import { errorText } from "../i18n";

/** First run: join with an invite (typed, or from a `parley-invite:` link the app was opened
 * with, previewed at once), or set up a new organisation. */
export function Welcome({ invite, onReady }: { invite?: string | null; onReady: (me: Me) => void }) {
  const { t } = useI18n();
  const [tab, setTab] = useState<"join" | "create">("join");
  return (
    <main className="center-screen welcome">
      <div className="card wide">
        <h1>{t("welcome.title")}</h1>
        <p className="muted">{t("welcome.subtitle")}</p>
        <div className="tabs" role="tablist">
          <button
            type="button"
            role="tab"
            id="tab-join"
            aria-selected={tab === "join"}
            aria-controls="panel-welcome"
            className={`tab ${tab === "join" ? "active" : ""}`}
            onClick={() => setTab("join")}
          >
            {t("welcome.joinTab")}
          </button>
          <button
            type="button"
            role="tab"
            id="tab-create"
            aria-selected={tab === "create"}
            aria-controls="panel-welcome"
            className={`tab ${tab === "create" ? "active" : ""}`}
            data-testid="create-org-tab"
            onClick={() => setTab("create")}
          >
            {t("welcome.createTab")}
          </button>
        </div>
        <div role="tabpanel" id="panel-welcome" aria-labelledby={tab === "join" ? "tab-join" : "tab-create"}>
          {tab === "join" ? <JoinForm initial={invite ?? ""} onReady={onReady} /> : <CreateForm onReady={onReady} />}
        </div>
      </div>
    </main>
  );
}

function JoinForm({ initial, onReady }: { initial: string; onReady: (me: Me) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(initial);
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const showPreview = async (invite: string) => {
    setBusy(true);
    setError(null);
    try {
      setPreview(await api.previewInvite(invite.trim()));
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };
  const onContinue = (e: FormEvent) => {
    e.preventDefault();
    void showPreview(text);
  };
  // Opened with a link: show whom it joins at once (joining still takes a click).
  useEffect(() => {
    if (initial.trim()) void showPreview(initial);
  }, []);

  const onJoin = async () => {
    setBusy(true);
    setError(null);
    try {
      onReady(await api.join(text.trim()));
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };

  if (preview) {
    return (
      <div className="preview">
        <dl className="facts">
          <dt>{t("welcome.previewOrg")}</dt>
          <dd data-testid="preview-org-name">{preview.org_name}</dd>
          <dt>{t("welcome.previewRelay")}</dt>
          <dd>
            <span data-testid="preview-relay">{preview.relay}</span>{" "}
            <span className={`pill ${preview.pinned ? "ok" : ""}`}>
              {preview.pinned ? `🔒 ${t("welcome.tlsPinned")}` : t("welcome.tlsNotPinned")}
            </span>
          </dd>
          <dt>{t("welcome.previewUser")}</dt>
          <dd data-testid="preview-user">
            {preview.display_name} <span className="muted">({preview.user})</span>
          </dd>
        </dl>
        {!preview.new_user && <p className="note">{t("welcome.linkDevice", { user: preview.user })}</p>}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row-actions">
          <button type="button" className="btn" onClick={() => setPreview(null)} disabled={busy}>
            {t("welcome.back")}
          </button>
          <button type="button" className="btn primary" data-testid="join-button" onClick={onJoin} disabled={busy}>
            {busy ? t("common.wait") : t("welcome.join", { org: preview.org_name })}
          </button>
        </div>
      </div>
    );
  }

  return (
    <form onSubmit={onContinue} className="form">
      <label className="field">
        <span>{t("welcome.inviteLabel")}</span>
        <textarea
          data-testid="invite-input"
          rows={5}
          value={text}
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
          aria-describedby="invite-hint"
        />
        <small id="invite-hint" className="muted">
          {t("welcome.inviteHint")}
        </small>
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row-actions">
        <button type="submit" className="btn primary" data-testid="invite-continue" disabled={busy || !text.trim()}>
          {busy ? t("common.wait") : t("welcome.continue")}
        </button>
      </div>
    </form>
  );
}

function CreateForm({ onReady }: { onReady: (me: Me) => void }) {
  const { t } = useI18n();
  const [relay, setRelay] = useState("");
  const [setupToken, setSetupToken] = useState("");
  const [tlsPin, setTlsPin] = useState("");
  const [backupPin, setBackupPin] = useState("");
  const [orgName, setOrgName] = useState("");
  const [user, setUser] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onReady(
        await api.createOrg({
          relay: relay.trim(),
          tlsPin: tlsPin.trim() || null,
          tlsBackupPin: backupPin.trim() || null,
          setupToken: setupToken.trim(),
          user: user.trim(),
          orgName: orgName.trim(),
        }),
      );
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };
  const ready = relay.trim() && setupToken.trim() && orgName.trim() && user.trim();

  return (
    <form onSubmit={submit} className="form">
      <label className="field">
        <span>{t("welcome.relayUrl")}</span>
        <input data-testid="create-relay" value={relay} onChange={(e) => setRelay(e.target.value)} placeholder="https://relay.example.com" />
      </label>
      <label className="field">
        <span>{t("welcome.setupToken")}</span>
        <input data-testid="create-token" value={setupToken} onChange={(e) => setSetupToken(e.target.value)} spellCheck={false} />
      </label>
      <label className="field">
        <span>{t("welcome.tlsPin")}</span>
        <input data-testid="create-pin" value={tlsPin} onChange={(e) => setTlsPin(e.target.value)} spellCheck={false} />
      </label>
      {tlsPin.trim() && (
        <label className="field">
          <span>{t("welcome.tlsBackupPin")}</span>
          <input data-testid="create-backup-pin" value={backupPin} onChange={(e) => setBackupPin(e.target.value)} spellCheck={false} />
        </label>
      )}
      <label className="field">
        <span>{t("welcome.orgName")}</span>
        <input data-testid="create-org-name" value={orgName} onChange={(e) => setOrgName(e.target.value)} />
      </label>
      <label className="field">
        <span>{t("welcome.userId")}</span>
        <input data-testid="create-user" value={user} onChange={(e) => setUser(e.target.value)} spellCheck={false} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row-actions">
        <button type="submit" className="btn primary" data-testid="create-org-submit" disabled={busy || !ready}>
          {busy ? t("common.wait") : t("welcome.create")}
        </button>
      </div>
    </form>
  );
}
