import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { GroupDetails } from "../bindings";
import { callsOf, mockCommands } from "../test/tauri";
import { everyone, GROUP, me, people, summary } from "../test/fixtures";
import { renderApp } from "./render";

const chat = { kind: "group" as const, group: GROUP };

function setup(details: GroupDetails) {
  let current = details;
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("x", "Finance", { chat, members: current.members })],
    directory: () => people,
    search_directory: everyone,
    timeline: () => [],
    read_chat: () => 0,
    group_details: () => current,
    change_group: (a) => {
      const members = a.members as string[];
      if (a.change === "add") current = { ...current, members: [...current.members, ...members].sort() };
      if (a.change === "remove") current = { ...current, members: current.members.filter((m) => !members.includes(m)) };
      if (a.change === "promote") current = { ...current, admins: [...current.admins, ...members] };
      if (a.change === "rename") current = { ...current, name: a.name as string };
      if (a.change === "announce_on") current = { ...current, announcement: true };
      return current;
    },
  });
}

async function openMembers() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  await user.click(await screen.findByTestId("group-members-button"));
  await screen.findAllByTestId("group-member-row");
  return user;
}

describe("group members", () => {
  it("an admin of the group adds, promotes, removes and renames", async () => {
    setup({ chat, name: "Finance", members: ["alice", "bob"], admins: ["alice"], announcement: false });
    const user = await openMembers();
    const dialog = screen.getByTestId("group-dialog");
    // Members not yet in the group can be added; Olga is one.
    const add = (await within(dialog).findAllByTestId("group-add"))
      .find((b) => b.getAttribute("data-user") === "olga")!;
    await user.click(add);
    await waitFor(() => expect(within(dialog).getAllByTestId("group-member-row")).toHaveLength(3));
    expect(callsOf("change_group")[0]).toEqual({ chat, change: "add", members: ["olga"], name: null });

    const bob = within(dialog)
      .getAllByTestId("group-member-row")
      .find((r) => r.getAttribute("data-user") === "bob")!;
    await user.click(within(bob).getByTestId("group-promote"));
    await waitFor(() => expect(within(bob).getByText("Group admin")).toBeInTheDocument());

    await user.click(within(bob).getByTestId("group-remove"));
    await waitFor(() => expect(within(dialog).getAllByTestId("group-member-row")).toHaveLength(2));

    const input = within(dialog).getByTestId("group-rename-input");
    await user.clear(input);
    await user.type(input, "Finance team");
    await user.click(within(dialog).getByTestId("group-rename"));
    expect(callsOf("change_group").at(-1)).toEqual({ chat, change: "rename", members: [], name: "Finance team" });

    // Only admins post, from now on.
    await user.click(within(dialog).getByTestId("group-announcement"));
    expect(callsOf("change_group").at(-1)).toEqual({ chat, change: "announce_on", members: [], name: null });
    await waitFor(() => expect(within(dialog).getByTestId("group-announcement")).toBeChecked());
  });

  it("a member who is not an admin sees no controls, and leaving asks first", async () => {
    setup({ chat, name: "Finance", members: ["alice", "bob"], admins: ["bob"], announcement: true });
    const user = await openMembers();
    const dialog = screen.getByTestId("group-dialog");
    expect(within(dialog).queryByTestId("group-remove")).toBeNull();
    expect(within(dialog).queryByTestId("group-add")).toBeNull();
    expect(within(dialog).queryByTestId("group-rename-input")).toBeNull();
    expect(within(dialog).queryByTestId("group-announcement")).toBeNull();
    expect(dialog).toHaveTextContent("Only the group's admins post here.");
    await user.click(within(dialog).getByTestId("group-leave"));
    const confirm = await screen.findByTestId("confirm-dialog");
    expect(confirm).toHaveTextContent("Finance");
    await user.click(within(confirm).getByTestId("confirm-cancel"));
    expect(callsOf("change_group")).toHaveLength(0);
    await user.click(within(dialog).getByTestId("group-leave"));
    await user.click(within(await screen.findByTestId("confirm-dialog")).getByTestId("confirm-ok"));
    await waitFor(() => expect(callsOf("change_group")).toEqual([{ chat, change: "leave", members: [], name: null }]));
  });
});

describe("the company channel", () => {
  it("offers no composer to someone who may only read and react", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [summary("x", "Acme Corp", { chat, members: ["alice", "bob"], read_only: true })],
      directory: () => people,
      timeline: () => [],
      read_chat: () => 0,
    });
    const user = userEvent.setup();
    renderApp();
    await user.click((await screen.findAllByTestId("chat-item"))[0]);
    expect(await screen.findByTestId("read-only")).toHaveTextContent("Only the channel's admins post here");
    expect(screen.queryByTestId("composer-input")).toBeNull();
  });
});
