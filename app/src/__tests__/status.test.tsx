import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { callsOf, emit, mockCommands } from "../test/tauri";
import { me, people, summary } from "../test/fixtures";
import { renderApp } from "./render";

function setup() {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("bob", "Bob Smith")],
    directory: () => people,
    timeline: () => [],
    read_chat: () => 0,
    statuses: () => [{ user: "bob", text: "In a workshop", until: null }],
    set_status: () => 2,
    task_reminder_lead: () => 3600,
  });
}

describe("status texts", () => {
  it("shows the peer's status in a 1:1 header, and the latest one the engine reports", async () => {
    setup();
    const user = userEvent.setup();
    renderApp();
    await user.click((await screen.findAllByTestId("chat-item"))[0]);
    expect(await screen.findByTestId("peer-status")).toHaveTextContent("In a workshop");
    emit({ kind: "status", status: { user: "bob", text: "Back at my desk", until: null } });
    await waitFor(() => expect(screen.getByTestId("peer-status")).toHaveTextContent("Back at my desk"));
    // One past its time, or cleared, is not shown.
    emit({ kind: "status", status: { user: "bob", text: "Out", until: Date.now() - 1 } });
    await waitFor(() => expect(screen.queryByTestId("peer-status")).toBeNull());
  });

  it("sets this user's status for a while, and clears it", async () => {
    setup();
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    await user.type(screen.getByTestId("status-text"), "On holiday, back on the 20th");
    await user.selectOptions(screen.getByTestId("status-lasting"), "86400");
    const before = Date.now();
    await user.click(screen.getByTestId("status-save"));
    expect(await screen.findByTestId("status-note")).toHaveTextContent("Status set; 2 colleagues told.");
    const [call] = callsOf("set_status");
    expect(call.text).toBe("On holiday, back on the 20th");
    expect(call.until as number).toBeGreaterThanOrEqual(before + 86_400_000);
    await user.click(screen.getByTestId("status-clear"));
    await waitFor(() => expect(callsOf("set_status")).toHaveLength(2));
    expect(callsOf("set_status")[1]).toEqual({ text: "", until: null });
  });
});
