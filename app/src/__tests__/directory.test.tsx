import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { callsOf, mockCommands } from "../test/tauri";
import { everyone, me, people } from "../test/fixtures";
import { renderApp } from "./render";

/** The engine's ranked answers, as the test scripts them. */
const answers: Record<string, string[]> = {
  бухг: ["olga"],
  a: ["olga", "bob", "alice"],
  carol: [],
  bob: ["bob"],
};

describe("directory", () => {
  it("shows what the engine's search finds, in its order; former colleagues only when asked; devices; a new 1:1 chat", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [],
      directory: () => people,
      search_directory: (a) => (a.query === "" ? everyone(a) : a.former && a.query === "carol" ? ["carol"] : answers[a.query as string] ?? []),
      timeline: () => [],
      read_chat: () => 0,
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-directory"));
    const users = () => screen.queryAllByTestId("person").map((p) => p.getAttribute("data-user"));
    await waitFor(() => expect(users()).toEqual(["alice", "bob", "olga"]));
    await user.type(screen.getByTestId("directory-search"), "бухг");
    await waitFor(() => expect(users()).toEqual(["olga"]));
    expect(callsOf("search_directory").at(-1)).toEqual({ query: "бухг", former: false });
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "a");
    // The engine's rank, not the alphabet.
    await waitFor(() => expect(users()).toEqual(["olga", "bob", "alice"]));
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "carol");
    await waitFor(() => expect(users()).toEqual([]));
    expect(screen.getByText("Nobody matches.")).toBeInTheDocument();
    await user.click(screen.getByTestId("show-former"));
    await waitFor(() => expect(users()).toEqual(["carol"]));
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "bob");
    await waitFor(() => expect(users()).toEqual(["bob"]));
    await user.click(screen.getAllByTestId("person")[0]);
    expect(screen.getByTestId("person-detail")).toHaveTextContent("Device 2");
    expect(screen.getByTestId("person-detail")).toHaveTextContent("revoked: lost");
    await user.click(screen.getByTestId("message-person"));
    expect(await screen.findByTestId("conversation-title")).toHaveTextContent("Bob Smith");
    expect(screen.getByTestId("composer-input")).toBeInTheDocument();
  });
});
