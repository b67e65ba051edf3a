import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { callsOf, emit, mockCommands, sendNotification, setBadgeCount } from "../test/tauri";
import { GROUP, me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

const convs = () => [
  summary("bob", "Bob Smith", { unread: 2, last: text("See you at 5") }),
  summary("olga", "Ольга Сёмина", { last: text("Отчёт готов", { outgoing: true, author: "alice" }) }),
  {
    ...summary("x", "Finance team", { unread: 1 }),
    chat: { kind: "group" as const, group: GROUP },
    members: ["alice", "bob", "olga"],
    last: { ...text(""), body: { kind: "file" as const, name: "q3.pdf", size: 10, mime: "application/pdf", caption: null, reply_to: null } },
  },
];

function setup(list = convs) {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => list(),
    directory: () => people,
    timeline: () => [],
    read_chat: () => 0,
  });
}

describe("chat list", () => {
  it("lists conversations with previews, unread badges and the unread title", async () => {
    setup();
    renderApp();
    const items = await screen.findAllByTestId("chat-item");
    expect(items.map((i) => i.getAttribute("data-chat"))).toEqual(["bob", "olga", GROUP]);
    expect(within(items[0]).getByTestId("unread-badge")).toHaveTextContent("2");
    expect(within(items[1]).queryByTestId("unread-badge")).toBeNull();
    expect(items[1]).toHaveTextContent("You: Отчёт готов");
    expect(items[2]).toHaveTextContent("📎 q3.pdf");
    await waitFor(() => expect(document.title).toBe("(3) Parley"));
    expect(setBadgeCount).toHaveBeenLastCalledWith(3);
    expect(screen.getByTestId("connection-status")).toHaveTextContent("Connecting…");
    act(() => emit({ kind: "connection", state: "online" }));
    expect(screen.getByTestId("connection-status")).toHaveTextContent("Online");
  });

  it("filters by title and opens with the keyboard; Ctrl+K focuses the search", async () => {
    setup();
    const user = userEvent.setup();
    renderApp();
    await screen.findAllByTestId("chat-item");
    await user.keyboard("{Control>}k{/Control}");
    expect(screen.getByTestId("chat-search")).toHaveFocus();
    await user.type(screen.getByTestId("chat-search"), "ольга");
    expect(screen.getAllByTestId("chat-item").map((i) => i.getAttribute("data-chat"))).toEqual(["olga"]);
    await user.clear(screen.getByTestId("chat-search"));
    await user.keyboard("{ArrowDown}");
    expect(screen.getAllByTestId("chat-item")[0]).toHaveFocus();
    await user.keyboard("{ArrowDown}");
    expect(screen.getAllByTestId("chat-item")[1]).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(await screen.findByTestId("conversation-title")).toHaveTextContent("Ольга Сёмина");
    expect(callsOf("read_chat")).toContainEqual({ chat: { kind: "user", user: "olga" } });
  });

  it("a changed event reloads the list and notifies about a chat that is not open", async () => {
    let list = convs();
    setup(() => list);
    renderApp();
    await screen.findAllByTestId("chat-item");
    list = [summary("bob", "Bob Smith", { unread: 5, last: text("new!") }), ...list.slice(1)];
    const notify = text("new!", { author: "bob" });
    await act(async () => emit({ kind: "changed", chat: { kind: "user", user: "bob" }, notify }));
    await waitFor(() => expect(document.title).toBe("(6) Parley"));
    await waitFor(() => expect(sendNotification).toHaveBeenCalledWith({ title: "Bob Smith", body: "new!" }));
  });

  it("devices_changed shows a dismissible banner; trust_alarm needs acknowledging", async () => {
    setup();
    const user = userEvent.setup();
    renderApp();
    await screen.findAllByTestId("chat-item");
    act(() => emit({ kind: "devices_changed", user: "bob", added: [3], revoked: [1, 2] }));
    const banner = await screen.findByTestId("devices-changed-banner");
    expect(banner).toHaveTextContent("Bob Smith's devices changed (added 1, revoked 2)");
    await user.click(within(banner).getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByTestId("devices-changed-banner")).toBeNull();
    act(() => emit({ kind: "trust_alarm", error: { code: "org_log_invalid", message: "fork" } }));
    const alarm = await screen.findByTestId("trust-alarm-banner");
    expect(alarm).toHaveTextContent(/security team/);
    await user.click(within(alarm).getByRole("button", { name: /told the security team/ }));
    expect(screen.queryByTestId("trust-alarm-banner")).toBeNull();
  });
});
