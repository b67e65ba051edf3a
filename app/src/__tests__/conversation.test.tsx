import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Item } from "../bindings";
import { callsOf, emit, mockCommands } from "../test/tauri";
import { GROUP, item, me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

const yesterday = Date.now() - 26 * 3600 * 1000;

function timelineItems(): Item[] {
  const hello = text("hello", { author: "bob", id: "h1", stamp: yesterday, sent_at: yesterday });
  return [
    hello,
    text("hi back", { author: "alice", outgoing: true, id: "m1", status: "read", edited: true }),
    item({ kind: "reaction", target: { author: "bob", id: "h1" }, emoji: "👍", remove: false }, { author: "alice", outgoing: true }),
    item({ kind: "reaction", target: { author: "bob", id: "h1" }, emoji: "👍", remove: false }, { author: "olga" }),
    item({ kind: "text", text: "answering", reply_to: { author: "bob", id: "h1" } }, { author: "alice", outgoing: true, id: "m2", status: "sending" }),
    item({ kind: "deleted" }, { author: "bob", id: "d1" }),
    item({ kind: "file", name: "cat.png", size: 2048, mime: "image/png", caption: null, reply_to: null }, { author: "bob", id: "f1" }),
  ];
}

function setup(items: () => Item[] = timelineItems, extra: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("bob", "Bob Smith", { unread: 1 })],
    directory: () => people,
    timeline: () => items(),
    read_chat: () => 1,
    image_preview: () => "data:image/png;base64,AAAA",
    react: () => null,
    delete_message: () => null,
    safety_number: () => "12345 67890 12345\n67890 12345 67890",
    ...extra,
  });
}

async function openBob() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  await screen.findAllByTestId("message");
  return user;
}

const msg = (id: string) => screen.getAllByTestId("message").find((m) => m.getAttribute("data-id") === id)!;

describe("conversation view", () => {
  it("renders rows with their hooks, day separators, quotes, reactions, files", async () => {
    setup();
    await openBob();
    expect(callsOf("timeline")[0]).toEqual({ chat: { kind: "user", user: "bob" }, before: null, limit: 200 });
    expect(callsOf("read_chat")).toContainEqual({ chat: { kind: "user", user: "bob" } });
    const list = screen.getByTestId("message-list");
    expect(within(list).getByText("Yesterday")).toBeInTheDocument();
    expect(within(list).getByText("Today")).toBeInTheDocument();
    // Reaction rows are folded, not shown as messages.
    expect(screen.getAllByTestId("message")).toHaveLength(5);
    const hello = msg("h1");
    expect(hello).toHaveAttribute("data-author", "bob");
    expect(hello).toHaveAttribute("data-outgoing", "false");
    const chip = within(hello).getByTestId("reaction-chip");
    expect(chip).toHaveAttribute("data-emoji", "👍");
    expect(chip).toHaveTextContent("2");
    expect(chip).toHaveClass("mine");
    const mine = msg("m1");
    expect(mine).toHaveAttribute("data-outgoing", "true");
    expect(mine).toHaveAttribute("data-status", "read");
    expect(within(mine).getByTestId("edited-mark")).toBeInTheDocument();
    expect(within(mine).getByRole("img", { name: "Read" })).toBeInTheDocument();
    expect(within(msg("m2")).getByRole("img", { name: "Sending" })).toBeInTheDocument();
    expect(msg("m2")).toHaveTextContent("hello");
    expect(within(msg("d1")).getByTestId("deleted-mark")).toHaveTextContent("This message was deleted");
    const file = msg("f1");
    expect(within(file).getByTestId("file-name")).toHaveTextContent("cat.png");
    expect(file).toHaveTextContent("2 KB");
    expect(await within(file).findByTestId("image-preview")).toHaveAttribute("src", "data:image/png;base64,AAAA");
  });

  it("clicking my chip takes my reaction back; the picker adds one", async () => {
    setup();
    const user = await openBob();
    await user.click(within(msg("h1")).getByTestId("reaction-chip"));
    expect(callsOf("react")).toEqual([
      { chat: { kind: "user", user: "bob" }, target: { author: "bob", id: "h1" }, emoji: "👍", remove: true },
    ]);
    await user.click(within(msg("f1")).getByTestId("action-react"));
    await user.click(within(msg("f1")).getByTestId("emoji-❤️"));
    expect(callsOf("react")[1]).toEqual({
      chat: { kind: "user", user: "bob" },
      target: { author: "bob", id: "f1" },
      emoji: "❤️",
      remove: false,
    });
  });

  it("delete asks first; Cancel does nothing, Delete deletes", async () => {
    setup();
    const user = await openBob();
    expect(within(msg("h1")).queryByTestId("action-delete")).toBeNull();
    await user.click(within(msg("m1")).getByTestId("action-delete"));
    expect(screen.getByTestId("confirm-cancel")).toHaveFocus();
    await user.click(screen.getByTestId("confirm-cancel"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(callsOf("delete_message")).toEqual([]);
    await user.click(within(msg("m1")).getByTestId("action-delete"));
    await user.click(screen.getByTestId("confirm-ok"));
    expect(callsOf("delete_message")).toEqual([{ chat: { kind: "user", user: "bob" }, id: "m1" }]);
  });

  it("saves a file into a chosen folder and says where", async () => {
    const { open } = await import("../test/tauri");
    open.mockImplementation(async () => "/home/alice/Downloads");
    setup(timelineItems, { save_file: () => "/home/alice/Downloads/cat.png" });
    const user = await openBob();
    await user.click(within(msg("f1")).getByTestId("save-file"));
    expect(await within(msg("f1")).findByText("Saved to /home/alice/Downloads/cat.png")).toBeInTheDocument();
    expect(callsOf("save_file")).toEqual([{ author: "bob", id: "f1", dir: "/home/alice/Downloads" }]);
    expect(open).toHaveBeenCalledWith({ multiple: false, directory: true });
  });

  it("shows typing for 6 s or until stopped, and reloads on changed", async () => {
    let rows = timelineItems();
    setup(() => rows);
    await openBob();
    act(() => emit({ kind: "typing", chat: { kind: "user", user: "bob" }, user: "bob", started: true }));
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("Bob Smith is typing…");
    act(() => emit({ kind: "typing", chat: { kind: "user", user: "bob" }, user: "bob", started: false }));
    expect(screen.queryByTestId("typing-indicator")).toBeNull();
    rows = [...rows, text("brand new", { author: "bob", id: "n1" })];
    await act(async () => emit({ kind: "changed", chat: { kind: "user", user: "bob" }, notify: null }));
    await waitFor(() => expect(msg("n1")).toHaveTextContent("brand new"));
  });

  it("group conversations show members and author names; 1:1 has the safety number", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [
        { ...summary("x", "Finance", {}), chat: { kind: "group", group: GROUP }, members: ["alice", "bob", "olga"] },
        summary("bob", "Bob Smith"),
      ],
      directory: () => people,
      timeline: (a) =>
        (a.chat as { kind: string }).kind === "group"
          ? [
              item({ kind: "group", change: { kind: "added", members: ["olga"] } }, { author: "bob" }),
              text("hi all", { author: "bob", id: "g1" }),
            ]
          : [],
      read_chat: () => 0,
      safety_number: () => "12345 67890",
    });
    const user = userEvent.setup();
    renderApp();
    const items = await screen.findAllByTestId("chat-item");
    await user.click(items[0]);
    expect(await screen.findByText("3 members")).toBeInTheDocument();
    expect(await screen.findByText("Bob Smith added Ольга Сёмина")).toBeInTheDocument();
    expect(msg("g1")).toHaveTextContent("Bob Smith");
    expect(screen.queryByTestId("safety-number-button")).toBeNull();
    await user.click(screen.getAllByTestId("chat-item")[1]);
    await user.click(await screen.findByTestId("safety-number-button"));
    expect(await screen.findByTestId("safety-number")).toHaveTextContent("12345 67890");
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("safety-number")).toBeNull();
  });
});
