import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { makeT } from "../i18n";
import { presenceText } from "../logic/format";
import { callsOf, emit, mockCommands } from "../test/tauri";
import { me, people, summary } from "../test/fixtures";
import { renderApp } from "./render";

describe("presence", () => {
  it("says we are here, follows the window's focus, and shows the peer's presence as it changes", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [summary("bob", "Bob Smith")],
      directory: () => people,
      timeline: () => [],
      read_chat: () => 0,
      presence: () => [{ user: "bob", state: "away", last_seen: null }],
      set_presence: () => null,
    });
    const user = userEvent.setup();
    renderApp();
    await user.click((await screen.findAllByTestId("chat-item"))[0]);
    await waitFor(() => expect(screen.getByTestId("peer-presence")).toHaveTextContent("bob · away"));
    expect(callsOf("set_presence").length).toBeGreaterThan(0);
    act(() => {
      window.dispatchEvent(new Event("blur"));
    });
    expect(callsOf("set_presence").at(-1)).toEqual({ state: "away" });
    act(() => {
      window.dispatchEvent(new Event("focus"));
    });
    expect(callsOf("set_presence").at(-1)).toEqual({ state: "online" });
    act(() => emit({ kind: "presence", presence: { user: "bob", state: "online", last_seen: Date.now() } }));
    await waitFor(() => expect(screen.getByTestId("peer-presence")).toHaveTextContent("bob · online"));
  });

  it("puts presence in words", () => {
    const en = makeT("en");
    const now = new Date(2026, 11, 5, 15, 0).getTime();
    const at = new Date(2026, 11, 5, 10, 42).getTime();
    expect(presenceText({ user: "b", state: "offline", last_seen: at }, en, "en", now)).toMatch(/^last seen 10:42/);
    expect(presenceText({ user: "b", state: "offline", last_seen: null }, en, "en", now)).toBe("offline");
    expect(presenceText({ user: "b", state: "online", last_seen: at }, makeT("ru"), "ru", now)).toBe("в сети");
  });
});
