import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DisappearingState, Item } from "../bindings";
import { makeT } from "../i18n";
import { effectiveTimer } from "../logic/chat";
import { durationText } from "../logic/format";
import { callsOf, emit, mockCommands } from "../test/tauri";
import { item, me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

function setup(initial: DisappearingState, items: () => Item[] = () => []) {
  let state = initial;
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [summary("bob", "Bob Smith", { disappearing: state })],
    directory: () => people,
    timeline: () => items(),
    read_chat: () => 0,
    set_disappearing: (a) => {
      state = { ...state, secs: a.secs as number };
      return null;
    },
  });
}

async function openBob() {
  const user = userEvent.setup();
  renderApp();
  await user.click((await screen.findAllByTestId("chat-item"))[0]);
  return user;
}

describe("disappearing messages", () => {
  it("sets a timer for the conversation; the header shows it", async () => {
    setup({ secs: 0, max_secs: 0 });
    const user = await openBob();
    expect(screen.getByTestId("timer-button")).not.toHaveTextContent("hour");
    await user.click(screen.getByTestId("timer-button"));
    const dialog = await screen.findByTestId("timer-dialog");
    expect(within(dialog).queryByTestId("timer-max")).toBeNull();
    await user.selectOptions(within(dialog).getByTestId("timer-select"), "3600");
    const loads = callsOf("timeline").length;
    await user.click(within(dialog).getByTestId("timer-save"));
    // The timer's own notice is a row of the conversation: it is read again.
    await waitFor(() => expect(callsOf("timeline").length).toBeGreaterThan(loads));
    expect(callsOf("set_disappearing")).toEqual([{ chat: { kind: "user", user: "bob" }, secs: 3600 }]);
    await waitFor(() => expect(screen.getByTestId("timer-button")).toHaveTextContent("1 hour"));
  });

  it("offers nothing over the org's maximum, which applies even with the timer off", async () => {
    setup({ secs: 0, max_secs: 86_400 });
    const user = await openBob();
    await waitFor(() => expect(screen.getByTestId("timer-button")).toHaveTextContent("1 day"));
    await user.click(screen.getByTestId("timer-button"));
    const dialog = await screen.findByTestId("timer-dialog");
    expect(within(dialog).getByTestId("timer-max")).toHaveTextContent("at most 1 day");
    const values = Array.from(within(dialog).getByTestId("timer-select").querySelectorAll("option")).map((o) =>
      Number(o.value),
    );
    expect(values).toEqual([0, 30, 300, 3600, 28_800, 86_400]);
  });

  it("shows who set the timer, and a message that expired leaves the view", async () => {
    let rows: Item[] = [
      item({ kind: "timer", secs: 300 }, { author: "bob", id: "t1" }),
      text("the code is 4711", { author: "bob", id: "m1" }),
    ];
    setup({ secs: 300, max_secs: 0 }, () => rows);
    await openBob();
    expect(await screen.findByTestId("timer-notice")).toHaveTextContent("Bob Smith set messages to disappear after 5 minutes");
    expect(screen.getByText("the code is 4711")).toBeInTheDocument();
    // The engine swept it and says the conversation changed.
    rows = rows.slice(0, 1);
    emit({ kind: "changed", chat: { kind: "user", user: "bob" }, notify: null });
    await waitFor(() => expect(screen.queryByText("the code is 4711")).toBeNull());
  });

  it("puts timers in words in both languages", () => {
    const en = makeT("en");
    const ru = makeT("ru");
    expect(durationText(30, en)).toBe("30 seconds");
    expect(durationText(3600, en)).toBe("1 hour");
    expect(durationText(7 * 86_400, en)).toBe("7 days");
    expect(durationText(5 * 60, ru)).toBe("5 минут");
    expect(durationText(2 * 86_400, ru)).toBe("2 дня");
    expect(durationText(86_400, ru)).toBe("1 день");
    expect(effectiveTimer({ secs: 0, max_secs: 0 })).toBe(0);
    expect(effectiveTimer({ secs: 600, max_secs: 0 })).toBe(600);
    expect(effectiveTimer({ secs: 0, max_secs: 60 })).toBe(60);
    expect(effectiveTimer({ secs: 600, max_secs: 60 })).toBe(60);
  });
});
