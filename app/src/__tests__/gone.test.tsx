import { act, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { emit, mockCommands } from "../test/tauri";
import { me } from "../test/fixtures";
import { renderApp } from "./render";

describe("gone and locked screens", () => {
  it("a gone event replaces everything with the wiped text", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [],
      directory: () => [],
    });
    renderApp();
    await screen.findByTestId("org-name");
    act(() => emit({ kind: "gone", reason: "wiped" }));
    const gone = await screen.findByTestId("gone-screen");
    expect(gone).toHaveAttribute("data-reason", "wiped");
    expect(gone).toHaveTextContent(
      "This device was wiped by your administrator. Nothing of your Parley account is left on this computer.",
    );
    expect(screen.queryByTestId("org-name")).toBeNull();
    expect(screen.queryByTestId("chat-list")).toBeNull();
  });

  it("app_state gone shows the reason; Start again asks app_state again", async () => {
    let state: unknown = { state: "gone", reason: "lost" };
    mockCommands({ app_state: () => state });
    const user = userEvent.setup();
    renderApp();
    expect(await screen.findByTestId("gone-screen")).toHaveTextContent(/reported lost/);
    state = { state: "welcome" };
    await user.click(screen.getByRole("button", { name: "Start again" }));
    expect(await screen.findByTestId("invite-input")).toBeInTheDocument();
  });

  it("locked shows the error and Retry opens the account", async () => {
    let state: unknown = { state: "locked", error: { code: "relay_unreachable", message: "x" } };
    mockCommands({ app_state: () => state, conversations: () => [], directory: () => [] });
    const user = userEvent.setup();
    renderApp();
    expect(await screen.findByTestId("locked-screen")).toHaveTextContent(/relay cannot be reached/);
    state = { state: "ready", me };
    await user.click(screen.getByTestId("retry"));
    expect(await screen.findByTestId("org-name")).toHaveTextContent("Acme Corp");
  });
});
