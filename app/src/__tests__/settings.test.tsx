import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi, describe, expect, it } from "vitest";
import { mockCommands } from "../test/tauri";
import { me, people } from "../test/fixtures";
import { renderApp } from "./render";

describe("settings and i18n", () => {
  it("switching to Russian re-renders in Russian and is remembered", async () => {
    mockCommands({ app_state: () => ({ state: "ready", me }), conversations: () => [], directory: () => people });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    expect(screen.getByTestId("nav-chats")).toHaveTextContent("Chats");
    await user.selectOptions(screen.getByTestId("language-select"), "ru");
    expect(screen.getByTestId("nav-chats")).toHaveTextContent("Чаты");
    expect(screen.getByTestId("nav-directory")).toHaveTextContent("Сотрудники");
    expect(screen.getByRole("heading", { name: "Настройки" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("ru");
    expect(localStorage.getItem("parley.lang")).toBe("ru");
  });

  it("theme select sets data-theme on <html>; System follows the system's preference", async () => {
    mockCommands({ app_state: () => ({ state: "ready", me }), conversations: () => [], directory: () => people });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    await user.selectOptions(screen.getByTestId("theme-select"), "dark");
    expect(document.documentElement.getAttribute("data-theme")).toBe("dark");
    await user.selectOptions(screen.getByTestId("theme-select"), "light");
    expect(document.documentElement.getAttribute("data-theme")).toBe("light");
    const dark = vi.fn(() => ({ matches: true, addEventListener: vi.fn() }));
    vi.stubGlobal("matchMedia", dark);
    await user.selectOptions(screen.getByTestId("theme-select"), "system");
    expect(document.documentElement.getAttribute("data-theme")).toBe("dark");
    expect(dark).toHaveBeenCalledWith("(prefers-color-scheme: dark)");
    vi.unstubAllGlobals();
  });

  it("shows my user id, device and devices", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [],
      directory: () => people,
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    expect(screen.getByTestId("my-user")).toHaveTextContent("alice");
    expect(screen.getByTestId("my-device")).toHaveTextContent("Device 1");
    expect(await screen.findByText("this device")).toBeInTheDocument();
    // Where the store key is kept is shown only once the app says.
    expect(screen.queryByTestId("store-key")).toBeNull();
  });

  it("says where the store key is kept", async () => {
    for (const [inKeystore, text] of [
      [true, "in the system keyring"],
      [false, "in a file readable only by you"],
    ] as const) {
      mockCommands({
        app_state: () => ({ state: "ready", me }),
        conversations: () => [],
        directory: () => people,
        key_in_keystore: () => inKeystore,
      });
      const user = userEvent.setup();
      const { unmount } = renderApp();
      await user.click(await screen.findByTestId("nav-settings"));
      expect(await screen.findByTestId("store-key")).toHaveTextContent(text);
      unmount();
    }
  });

  it("creates a link code for another computer", async () => {
    mockCommands({
      app_state: () => ({ state: "ready", me }),
      conversations: () => [],
      directory: () => people,
      link_code: () => "parley-invite:LINK",
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("nav-settings"));
    await user.click(screen.getByTestId("link-code-button"));
    expect(await screen.findByTestId("link-code")).toHaveValue("parley-invite:LINK");
  });
});
