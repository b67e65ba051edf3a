import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockCommands } from "../test/tauri";
import { me, people } from "../test/fixtures";
import { renderApp } from "./render";

describe("directory", () => {
  it("searches, hides former colleagues, shows devices, and opens a new 1:1 chat", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [],
      directory: () => people,
      timeline: () => [],
      read_chat: () => 0,
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-directory"));
    const users = () => screen.queryAllByTestId("person").map((p) => p.getAttribute("data-user"));
    expect(users()).not.toContain("carol");
    await user.type(screen.getByTestId("directory-search"), "бухг");
    expect(users()).toEqual(["olga"]);
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "ACC");
    expect(users()).toEqual(["bob"]);
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "carol");
    expect(users()).toEqual([]);
    await user.click(screen.getByTestId("show-former"));
    expect(users()).toEqual(["carol"]);
    await user.clear(screen.getByTestId("directory-search"));
    await user.type(screen.getByTestId("directory-search"), "bob");
    await user.click(screen.getAllByTestId("person")[0]);
    expect(screen.getByTestId("person-detail")).toHaveTextContent("Device 2");
    expect(screen.getByTestId("person-detail")).toHaveTextContent("revoked: lost");
    await user.click(screen.getByTestId("message-person"));
    expect(await screen.findByTestId("conversation-title")).toHaveTextContent("Bob Smith");
    expect(screen.getByTestId("composer-input")).toBeInTheDocument();
  });
});
