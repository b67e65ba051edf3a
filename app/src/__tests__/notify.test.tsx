import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ChatSummary, NotifyState } from "../bindings";
import { callsOf, emit, mockCommands, sendNotification } from "../test/tauri";
import { me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

function setup(initial: NotifyState) {
  let state = initial;
  const list = (): ChatSummary[] => [summary("bob", "Bob Smith", { notify: state })];
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: list,
    directory: () => people,
    timeline: () => [],
    read_chat: () => 0,
    set_notify: (a) => {
      state = { level: a.level as NotifyState["level"], muted_until: a.mutedUntil as number };
      return state;
    },
  });
}

async function openBob() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  return user;
}

describe("notification settings", () => {
  it("sets mentions only and a mute; the list and the header show it", async () => {
    setup({ level: "all", muted_until: 0 });
    const user = await openBob();
    expect(screen.queryByTestId("chat-muted")).toBeNull();
    await user.click(screen.getByTestId("notify-button"));
    const dialog = await screen.findByTestId("notify-dialog");
    expect(within(dialog).getByTestId("notify-all")).toBeChecked();
    await user.click(within(dialog).getByTestId("notify-mentions"));
    await user.selectOptions(within(dialog).getByTestId("notify-mute"), "480");
    const before = Date.now();
    await user.click(within(dialog).getByTestId("notify-save"));
    const call = callsOf("set_notify")[0];
    expect(call.chat).toEqual({ kind: "user", user: "bob" });
    expect(call.level).toBe("mentions");
    const until = call.mutedUntil as number;
    expect(until).toBeGreaterThanOrEqual(before + 8 * 3600_000);
    expect(until).toBeLessThan(before + 8 * 3600_000 + 60_000);
    await waitFor(() => expect(screen.getByTestId("chat-muted")).toBeInTheDocument());
    expect(screen.getByTestId("notify-button")).toHaveTextContent("Muted");
    expect(screen.queryByTestId("notify-dialog")).toBeNull();
  });

  it("unmutes, keeping the level; a running mute is kept unless changed", async () => {
    setup({ level: "mentions", muted_until: Date.now() + 3600_000 });
    const user = await openBob();
    await waitFor(() => expect(screen.getByTestId("chat-muted")).toBeInTheDocument());
    await user.click(screen.getByTestId("notify-button"));
    let dialog = await screen.findByTestId("notify-dialog");
    expect(within(dialog).getByTestId("notify-mentions")).toBeChecked();
    await user.click(within(dialog).getByTestId("notify-none"));
    await user.click(within(dialog).getByTestId("notify-save"));
    expect(callsOf("set_notify")[0].mutedUntil).toBeGreaterThan(Date.now());
    await user.click(await screen.findByTestId("notify-button"));
    dialog = await screen.findByTestId("notify-dialog");
    await user.click(within(dialog).getByTestId("notify-all"));
    await user.selectOptions(within(dialog).getByTestId("notify-mute"), "0");
    await user.click(within(dialog).getByTestId("notify-save"));
    expect(callsOf("set_notify")[1]).toMatchObject({ level: "all", mutedUntil: 0 });
    await waitFor(() => expect(screen.queryByTestId("chat-muted")).toBeNull());
  });

  it("a desktop notification only for what the engine marks to notify", async () => {
    setup({ level: "mentions", muted_until: 0 });
    renderApp();
    await screen.findAllByTestId("chat-item");
    sendNotification.mockClear();
    emit({ kind: "changed", chat: { kind: "user", user: "bob" }, notify: null });
    emit({ kind: "changed", chat: { kind: "user", user: "bob" }, notify: text("@alice look", { author: "bob" }) });
    await vi.waitFor(() => expect(sendNotification).toHaveBeenCalledTimes(1));
    expect(sendNotification.mock.calls[0][0]).toMatchObject({ body: "@alice look" });
  });
});
