import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Progress } from "../bindings";
import { callsOf, mockCommands, open } from "../test/tauri";
import { me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

const bob = { kind: "user", user: "bob" };

function setup(extra: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("bob", "Bob Smith")],
    directory: () => people,
    timeline: () => [
      text("question?", { author: "bob", id: "q1" }),
      text("my text", { author: "alice", outgoing: true, id: "m1", status: "delivered" }),
    ],
    read_chat: () => 0,
    send_text: () => "abc",
    edit_message: () => null,
    typing: () => null,
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

describe("composer", () => {
  it("Enter sends; Shift+Enter makes a new line", async () => {
    setup();
    const user = await openBob();
    const input = screen.getByTestId("composer-input");
    await user.type(input, "line one{Shift>}{Enter}{/Shift}line two");
    expect(callsOf("send_text")).toEqual([]);
    expect(input).toHaveValue("line one\nline two");
    await user.keyboard("{Enter}");
    expect(callsOf("send_text")).toEqual([{ chat: bob, text: "line one\nline two", replyTo: null }]);
    await waitFor(() => expect(input).toHaveValue(""));
  });

  it("does not send blank text", async () => {
    setup();
    const user = await openBob();
    await user.type(screen.getByTestId("composer-input"), "   {Enter}");
    expect(callsOf("send_text")).toEqual([]);
    expect(screen.getByTestId("send-button")).toBeDisabled();
  });

  it("replies with replyTo; Escape cancels a reply", async () => {
    setup();
    const user = await openBob();
    await user.click(within(msg("q1")).getByTestId("action-reply"));
    expect(screen.getByText(/Replying to Bob Smith/)).toBeInTheDocument();
    await user.keyboard("{Escape}");
    expect(screen.queryByText(/Replying to/)).toBeNull();
    await user.click(within(msg("q1")).getByTestId("action-reply"));
    await user.type(screen.getByTestId("composer-input"), "answer{Enter}");
    expect(callsOf("send_text")).toEqual([{ chat: bob, text: "answer", replyTo: { author: "bob", id: "q1" } }]);
  });

  it("edit puts the text in, sends edit_message; Escape cancels", async () => {
    setup();
    const user = await openBob();
    expect(within(msg("q1")).queryByTestId("action-edit")).toBeNull();
    await user.click(within(msg("m1")).getByTestId("action-edit"));
    const input = screen.getByTestId("composer-input");
    expect(input).toHaveValue("my text");
    expect(input).toHaveFocus();
    await user.keyboard("{Escape}");
    expect(input).toHaveValue("");
    await user.click(within(msg("m1")).getByTestId("action-edit"));
    await user.clear(input);
    await user.type(input, "fixed{Enter}");
    expect(callsOf("edit_message")).toEqual([{ chat: bob, id: "m1", text: "fixed" }]);
    expect(callsOf("send_text")).toEqual([]);
  });

  it("attaches a file with a progress bar reaching 100 %", async () => {
    open.mockImplementation(async () => "/home/alice/report.pdf");
    setup({
      send_file: (a) => {
        const ch = a.progress as { onmessage: (p: Progress) => void };
        ch.onmessage({ done: 500, total: 1000 });
        ch.onmessage({ done: 1000, total: 1000 });
        return "fid";
      },
    });
    const user = await openBob();
    await user.click(screen.getByTestId("attach-button"));
    const bar = await screen.findByTestId("upload-progress");
    await waitFor(() => expect(screen.getByTestId("upload-percent")).toHaveTextContent("100 %"));
    expect(bar).toHaveAttribute("value", "1000");
    expect(bar).toHaveAttribute("max", "1000");
    const call = callsOf("send_file")[0];
    expect(call.chat).toEqual(bob);
    expect(call.path).toBe("/home/alice/report.pdf");
    expect(call.caption).toBeNull();
  });

  it("tells typing at most every 4 s in a 1:1 chat, and stops on send", async () => {
    setup();
    const user = await openBob();
    await user.type(screen.getByTestId("composer-input"), "hello");
    expect(callsOf("typing")).toEqual([{ chat: bob, started: true }]);
    await user.keyboard("{Enter}");
    expect(callsOf("typing")).toEqual([
      { chat: bob, started: true },
      { chat: bob, started: false },
    ]);
  });
});
