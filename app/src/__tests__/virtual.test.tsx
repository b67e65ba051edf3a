import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Item } from "../bindings";
import { callsOf, mockCommands } from "../test/tauri";
import { me, people, summary, text } from "../test/fixtures";
import { renderApp } from "./render";

describe("virtualised message list", () => {
  it("renders only a window of a long conversation and loads older pages at the top", async () => {
    const base = Date.now() - 10_000 * 1000;
    const all: Item[] = Array.from({ length: 10_000 }, (_, i) =>
      text(`message ${i}`, { id: `m${i}`, stamp: base + i * 1000, sent_at: base + i * 1000 }),
    );
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [summary("bob", "Bob Smith")],
      directory: () => people,
      read_chat: () => 0,
      timeline: (a) => {
        const before = a.before as number | null;
        const older = before === null ? all : all.filter((i) => i.stamp < before);
        return older.slice(-(a.limit as number));
      },
    });
    const user = userEvent.setup();
    renderApp();
    await user.click((await screen.findAllByTestId("chat-item"))[0]);
    await screen.findAllByTestId("message");
    const shown = screen.getAllByTestId("message").length;
    expect(shown).toBeGreaterThan(5);
    expect(shown).toBeLessThan(200);
    const list = screen.getByTestId("message-list");
    await act(async () => {
      list.scrollTop = 0;
      fireEvent.scroll(list);
    });
    await waitFor(() => expect(callsOf("timeline")).toHaveLength(2));
    expect(callsOf("timeline")[1]).toEqual({ chat: { kind: "user", user: "bob" }, before: all[9800].stamp, limit: 200 });
  });
});
