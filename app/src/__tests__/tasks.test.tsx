import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Item, TaskDto } from "../bindings";
import { makeT } from "../i18n";
import { fromLocalInput, taskEventText, toLocalInput } from "../logic/tasks";
import { callsOf, emit, mockCommands, sendNotification } from "../test/tauri";
import { GROUP, item, me, people, summary } from "../test/fixtures";
import { renderApp } from "./render";

const OPS = { kind: "group", group: GROUP } as const;
const TASK_ID = "1a2b3c4d".padEnd(32, "0");

function task(extra: Partial<TaskDto> = {}): TaskDto {
  return {
    id: TASK_ID,
    chat: OPS,
    title: "Rotate the VPN certificate",
    description: "before Friday's audit",
    creator: "alice",
    assignee: "bob",
    deadline: null,
    status: "open",
    overdue: false,
    created_at: 1,
    updated_at: 1,
    comments: [],
    ...extra,
  };
}

function setup(opts: { tasks?: () => TaskDto[]; items?: () => Item[] } = {}) {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [
      summary("ops", "Ops", { chat: OPS, members: ["alice", "bob", "olga"] }),
      summary("bob", "Bob Smith"),
    ],
    directory: () => people,
    timeline: () => (opts.items ? opts.items() : []),
    read_chat: () => 0,
    tasks: () => (opts.tasks ? opts.tasks() : []),
    create_task: () => TASK_ID,
    change_task: () => null,
    task_reminder_lead: () => 3600,
    set_task_reminder_lead: () => null,
  });
}

async function openOps() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  return user;
}

describe("tasks", () => {
  it("creates a task in a group for a member, with a deadline and details", async () => {
    setup();
    const user = await openOps();
    await user.click(screen.getByTestId("tasks-button"));
    const dialog = await screen.findByTestId("tasks-dialog");
    expect(within(dialog).getByText("No tasks here yet.")).toBeInTheDocument();
    await user.click(within(dialog).getByTestId("new-task"));
    const create = within(dialog).getByTestId("new-task-create");
    expect(create).toBeDisabled();
    await user.type(within(dialog).getByTestId("new-task-title"), "  Rotate the VPN certificate ");
    const assignees = Array.from(within(dialog).getByTestId("new-task-assignee").querySelectorAll("option")).map(
      (o) => o.value,
    );
    expect(assignees).toEqual(["alice", "bob", "olga"]);
    await user.selectOptions(within(dialog).getByTestId("new-task-assignee"), "bob");
    await user.type(within(dialog).getByTestId("new-task-deadline"), "2026-12-11T17:00");
    await user.type(within(dialog).getByTestId("new-task-description"), "before the audit");
    await user.click(create);
    await waitFor(() => expect(callsOf("create_task")).toHaveLength(1));
    expect(callsOf("create_task")[0]).toEqual({
      chat: OPS,
      title: "Rotate the VPN certificate",
      assignee: "bob",
      deadline: new Date("2026-12-11T17:00").getTime(),
      description: "before the audit",
    });
  });

  it("changes status, assignee and deadline, and comments, each as one change", async () => {
    setup({ tasks: () => [task({ deadline: Date.now() - 1000, overdue: true })] });
    const user = await openOps();
    await user.click(screen.getByTestId("tasks-button"));
    const card = await screen.findByTestId("task-card");
    expect(within(card).getByTestId("task-overdue")).toHaveTextContent("overdue");
    expect(within(card).getByText("for Bob Smith · from Alice Admin", { exact: false })).toBeInTheDocument();
    await user.selectOptions(within(card).getByTestId("task-status"), "in_progress");
    await user.selectOptions(within(card).getByTestId("task-assignee"), "olga");
    await user.click(within(card).getByTestId("task-deadline-clear"));
    await user.type(within(card).getByTestId("task-comment"), "on it");
    await user.click(within(card).getByTestId("task-comment-send"));
    await waitFor(() => expect(callsOf("change_task")).toHaveLength(4));
    expect(callsOf("change_task").map((c) => c.change)).toEqual([
      { kind: "status", status: "in_progress" },
      { kind: "assign", assignee: "olga" },
      { kind: "deadline", deadline: null },
      { kind: "comment", text: "on it" },
    ]);
    expect(callsOf("change_task")[0]).toMatchObject({ chat: OPS, id: TASK_ID });
  });

  it("shows task changes in the conversation by the task's title", async () => {
    setup({
      items: () => [
        item(
          { kind: "task", task: TASK_ID, title: "Rotate the VPN certificate", change: { kind: "created", assignee: "bob", deadline: null } },
          { author: "alice", outgoing: true },
        ),
        item({ kind: "task", task: TASK_ID, title: "Rotate the VPN certificate", change: { kind: "status", status: "done" } }),
      ],
    });
    await openOps();
    const rows = await screen.findAllByTestId("task-notice");
    expect(rows[0]).toHaveTextContent("You created the task “Rotate the VPN certificate” for Bob Smith");
    expect(rows[1]).toHaveTextContent("Bob Smith marked “Rotate the VPN certificate”: Done");
  });

  it("lists my tasks across conversations, and reminders notify and open the chat", async () => {
    let list = [task({ assignee: "alice" })];
    setup({ tasks: () => list });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-tasks"));
    const card = await screen.findByTestId("task-card");
    expect(card).toHaveTextContent("in Ops");
    expect(callsOf("tasks").at(-1)).toEqual({ query: { mine: true, by_me: false, overdue: false, done: false, chat: null } });
    await user.click(screen.getByTestId("tasks-by_me"));
    await waitFor(() => expect(callsOf("tasks").at(-1)).toMatchObject({ query: { by_me: true, mine: false } }));
    list = [];
    await user.click(screen.getByTestId("tasks-overdue"));
    expect(await screen.findByText(/Nothing to do/)).toBeInTheDocument();

    emit({ kind: "task_reminder", task: task({ assignee: "alice", deadline: Date.now() }), reminder: "due" });
    const banner = await screen.findByTestId("task-reminder");
    expect(banner).toHaveTextContent("Due now: Rotate the VPN certificate");
    await waitFor(() => expect(sendNotification).toHaveBeenCalled());
    await user.click(within(banner).getByText(/Due now/));
    expect(await screen.findByTestId("conversation-title")).toHaveTextContent("Ops");
  });

  it("sets the reminder lead in settings", async () => {
    setup();
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    const select = await screen.findByTestId("reminder-lead");
    await waitFor(() => expect(select).toHaveValue("3600"));
    await user.selectOptions(select, "0");
    expect(callsOf("set_task_reminder_lead")).toEqual([{ secs: 0 }]);
  });

  it("puts task changes in words in both languages, and reads deadlines in local time", () => {
    const name = (u: string) => (u === "bob" ? "Bob" : u);
    const ru = makeT("ru");
    expect(taskEventText({ kind: "assigned", assignee: "bob" }, "Алиса", "Отчёт", name, ru, "ru")).toBe(
      "Алиса передаёт «Отчёт»: Bob",
    );
    expect(taskEventText({ kind: "deadline", deadline: null }, "Alice", "Report", name, makeT("en"), "en")).toBe(
      "Alice removed the deadline of “Report”",
    );
    const ms = fromLocalInput("2026-12-11T17:00");
    expect(ms).not.toBeNull();
    expect(toLocalInput(ms)).toBe("2026-12-11T17:00");
    expect(fromLocalInput("")).toBeNull();
  });
});
