import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { insertMention, mentionAt, mentionCandidates, mentionRuns } from "../logic/mentions";
import { callsOf, mockCommands } from "../test/tauri";
import { GROUP, me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

const OPS = { kind: "group", group: GROUP } as const;

function setup() {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("ops", "Ops", { chat: OPS, members: ["alice", "bob", "olga"] })],
    directory: () => people,
    timeline: () => [text("@alice can you sign? cc @olga.", { author: "bob", id: "q1" })],
    read_chat: () => 0,
    send_text: () => "abc",
  });
}

async function openOps() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  await screen.findAllByTestId("message");
  return user;
}

describe("mentions", () => {
  it("suggests members as an @word is typed; Enter picks one, and the message is sent", async () => {
    setup();
    const user = await openOps();
    const input = screen.getByTestId("composer-input");
    await user.type(input, "thanks @Ол");
    const list = await screen.findByTestId("mention-list");
    expect(within(list).getAllByTestId("mention-option").map((o) => o.getAttribute("data-user"))).toEqual(["olga"]);
    await user.keyboard("{Enter}");
    expect(input).toHaveValue("thanks @olga ");
    expect(screen.queryByTestId("mention-list")).toBeNull();
    expect(callsOf("send_text")).toEqual([]);
    await user.type(input, "and @");
    const options = within(await screen.findByTestId("mention-list")).getAllByTestId("mention-option");
    expect(options.map((o) => o.getAttribute("data-user"))).toEqual(["all", "bob", "olga"]);
    await user.keyboard("{ArrowDown}{Tab}");
    expect(input).toHaveValue("thanks @olga and @bob ");
    await user.type(input, "@x{Escape}");
    expect(screen.queryByTestId("mention-list")).toBeNull();
    await user.clear(input);
    await user.type(input, "ping @bo{Enter}");
    await user.keyboard("{Enter}");
    await waitFor(() => expect(callsOf("send_text")).toHaveLength(1));
    expect(callsOf("send_text")[0]).toMatchObject({ chat: OPS, text: "ping @bob" });
  });

  it("shows mentions in a message apart", async () => {
    setup();
    await openOps();
    const shown = screen.getAllByTestId("mention").map((m) => m.textContent);
    expect(shown).toEqual(["@alice", "@olga"]);
  });

  it("reads the word being typed, and inserts in its place", () => {
    expect(mentionAt("hi @bo", 6)).toEqual({ start: 3, query: "bo" });
    expect(mentionAt("mail a@b", 8)).toBeNull();
    expect(mentionAt("(@x", 3)).toEqual({ start: 1, query: "x" });
    expect(mentionAt("@a b", 4)).toBeNull();
    expect(insertMention("hi @bo there", 3, 6, "bob")).toEqual({ text: "hi @bob there", caret: 8 });
    const name = (u: string) => ({ bob: "Bob Smith", olga: "Ольга Сёмина" })[u] ?? u;
    expect(mentionCandidates("s", ["bob", "olga"], name, { group: false })).toEqual(["bob"]);
    expect(mentionRuns("x @a. y")).toEqual([
      { text: "x ", mention: false },
      { text: "@a", mention: true },
      { text: ". y", mention: false },
    ]);
  });
});
