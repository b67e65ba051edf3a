import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import * as api from "./api";
import type { CommandError, GoneReason, Me } from "./bindings";
import { BusContext, createBus } from "./events";
import { useI18n } from "./I18nContext";
import { errorText } from "./i18n";
import { Gone } from "./screens/Gone";
import { Locked } from "./screens/Locked";
import { Main } from "./screens/Main";
import { Welcome } from "./screens/Welcome";

type Screen =
  | { kind: "loading" }
  | { kind: "welcome"; invite: string | null }
  | { kind: "ready"; me: Me }
  | { kind: "locked"; error: CommandError }
  | { kind: "gone"; reason: GoneReason }
  | { kind: "failed"; error: unknown };

/** Where the app stands (app_state), and the engine's events to every screen. */
export function App() {
  const { t } = useI18n();
  const [screen, setScreen] = useState<Screen>({ kind: "loading" });
  // The event listener is set up once; it reads the screen it is on through this.
  const screenRef = useRef(screen);
  screenRef.current = screen;
  const bus = useMemo(createBus, []);
  const [notice, setNotice] = useState<"app.inviteIgnored" | null>(null);

  const start = useCallback(async () => {
    setScreen({ kind: "loading" });
    try {
      const s = await api.appState();
      switch (s.state) {
        case "welcome":
          return setScreen({ kind: "welcome", invite: s.invite });
        case "ready":
          return setScreen({ kind: "ready", me: s.me });
        case "locked":
          return setScreen({ kind: "locked", error: s.error });
        case "gone":
          return setScreen({ kind: "gone", reason: s.reason });
      }
    } catch (e) {
      setScreen({ kind: "failed", error: e });
    }
  }, []);

  useEffect(() => {
    void start();
  }, [start]);

  useEffect(() => {
    let unlisten: (() => void) | null = null;
    let stopped = false;
    api
      .onEvent((e) => {
        if (e.kind === "gone") setScreen({ kind: "gone", reason: e.reason });
        // A parley-invite: link opened while the app runs: the first-run screen takes it;
        // an account already here is never replaced, and the person is told so.
        if (e.kind === "invite_link") {
          if (screenRef.current.kind === "welcome") setScreen({ kind: "welcome", invite: e.invite });
          else if (screenRef.current.kind === "ready") setNotice("app.inviteIgnored");
        }
        bus.publish(e);
      })
      .then((u) => {
        if (stopped) u();
        else unlisten = u;
      })
      .catch(() => {});
    return () => {
      stopped = true;
      unlisten?.();
    };
  }, [bus]);

  let body;
  switch (screen.kind) {
    case "loading":
      body = (
        <div className="center-screen" aria-busy="true">
          <p className="muted">{t("common.loading")}</p>
        </div>
      );
      break;
    case "welcome":
      body = (
        <Welcome key={screen.invite ?? ""} invite={screen.invite} onReady={(me) => setScreen({ kind: "ready", me })} />
      );
      break;
    case "ready":
      body = <Main me={screen.me} />;
      break;
    case "locked":
      body = <Locked message={errorText(t, screen.error)} onRetry={start} />;
      break;
    case "failed":
      body = <Locked message={errorText(t, screen.error)} onRetry={start} />;
      break;
    case "gone":
      body = <Gone reason={screen.reason} onStartAgain={start} />;
      break;
  }
  return (
    <BusContext.Provider value={bus}>
      {notice && (
        <div className="banner" role="status" data-testid="app-notice">
          <span>{t(notice)}</span>
          <button type="button" className="btn" onClick={() => setNotice(null)}>
            {t("common.close")}
          </button>
        </div>
      )}
      {body}
    </BusContext.Provider>
  );
}
