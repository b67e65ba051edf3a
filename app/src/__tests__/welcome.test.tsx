import { act, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { callsOf, emit, mockCommands } from "../test/tauri";
import { me } from "../test/fixtures";
import { renderApp } from "./render";

const preview = {
  org_name: "Acme Corp",
  relay: "https://relay.acme.test",
  pinned: true,
  user: "bob",
  display_name: "Bob Smith",
  new_user: true,
};

/** The first-run screen (opened with `invite`, if any), where joining makes Bob's account. */
function joinsAsBob(invite: string | null) {
  mockCommands({
    app_state: () => ({ state: "welcome", invite }),
    preview_invite: () => preview,
    join: () => ({ ...me, user: "bob", display_name: "Bob Smith", admin: false }),
    conversations: () => [],
    directory: () => [],
  });
}

describe("welcome", () => {
  it("previews an invite, then joins and shows the main window", async () => {
    joinsAsBob(null);
    const user = userEvent.setup();
    renderApp();
    const input = await screen.findByTestId("invite-input");
    await user.type(input, "  parley-invite:XYZ  ");
    await user.click(screen.getByTestId("invite-continue"));
    expect(callsOf("preview_invite")).toEqual([{ invite: "parley-invite:XYZ" }]);
    expect(await screen.findByTestId("preview-org-name")).toHaveTextContent("Acme Corp");
    expect(screen.getByTestId("preview-relay")).toHaveTextContent("https://relay.acme.test");
    expect(screen.getByText(/TLS pinned/)).toBeInTheDocument();
    expect(screen.getByTestId("preview-user")).toHaveTextContent("Bob Smith");
    expect(screen.queryByText(/Link this computer/)).toBeNull();
    await user.click(screen.getByTestId("join-button"));
    expect(callsOf("join")).toEqual([{ invite: "parley-invite:XYZ" }]);
    expect(await screen.findByTestId("org-name")).toHaveTextContent("Acme Corp");
    expect(screen.queryByTestId("nav-admin")).toBeNull();
  });

  it("says a link code links this computer to the account", async () => {
    mockCommands({
      app_state: () => ({ state: "welcome", invite: null }),
      preview_invite: () => ({ ...preview, new_user: false }),
    });
    const user = userEvent.setup();
    renderApp();
    await user.type(await screen.findByTestId("invite-input"), "code");
    await user.click(screen.getByTestId("invite-continue"));
    expect(await screen.findByText("Link this computer to your account bob")).toBeInTheDocument();
    expect(screen.getByTestId("join-button")).toHaveTextContent("Join Acme Corp");
  });

  it("shows a translated error for a bad invite", async () => {
    mockCommands({
      app_state: () => ({ state: "welcome", invite: null }),
      preview_invite: () => {
        throw { code: "invite_invalid", message: "raw engine text" };
      },
    });
    const user = userEvent.setup();
    renderApp();
    await user.type(await screen.findByTestId("invite-input"), "junk");
    await user.click(screen.getByTestId("invite-continue"));
    expect(await screen.findByRole("alert")).toHaveTextContent(/not valid/);
  });

  it("sets up a new organisation with camelCase arguments", async () => {
    mockCommands({
      app_state: () => ({ state: "welcome", invite: null }),
      create_org: () => me,
      conversations: () => [],
      directory: () => [],
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("create-org-tab"));
    await user.type(screen.getByTestId("create-relay"), "https://relay.acme.test");
    await user.type(screen.getByTestId("create-token"), "tok");
    await user.type(screen.getByTestId("create-org-name"), "Acme Corp");
    await user.type(screen.getByTestId("create-user"), "alice");
    expect(screen.queryByTestId("create-backup-pin")).toBeNull();
    await user.click(screen.getByTestId("create-org-submit"));
    expect(callsOf("create_org")).toEqual([
      { relay: "https://relay.acme.test", tlsPin: null, tlsBackupPin: null, setupToken: "tok", user: "alice", orgName: "Acme Corp" },
    ]);
    expect(await screen.findByTestId("nav-admin")).toBeInTheDocument();
  });

  it("offers a backup pin once a pin is given, and sends both", async () => {
    mockCommands({
      app_state: () => ({ state: "welcome", invite: null }),
      create_org: () => me,
      conversations: () => [],
      directory: () => [],
    });
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId("create-org-tab"));
    await user.type(screen.getByTestId("create-relay"), "https://relay.acme.test");
    await user.type(screen.getByTestId("create-token"), "tok");
    await user.type(screen.getByTestId("create-pin"), "ab".repeat(32));
    await user.type(screen.getByTestId("create-backup-pin"), "cd".repeat(32));
    await user.type(screen.getByTestId("create-org-name"), "Acme Corp");
    await user.type(screen.getByTestId("create-user"), "alice");
    await user.click(screen.getByTestId("create-org-submit"));
    expect(callsOf("create_org")[0]).toMatchObject({ tlsPin: "ab".repeat(32), tlsBackupPin: "cd".repeat(32) });
  });

  it("opened with a parley-invite: link, previews it at once; joining still takes a click", async () => {
    joinsAsBob("parley-invite:LINK");
    const user = userEvent.setup();
    renderApp();
    expect(await screen.findByTestId("preview-org-name")).toHaveTextContent("Acme Corp");
    expect(callsOf("preview_invite")).toEqual([{ invite: "parley-invite:LINK" }]);
    expect(callsOf("join")).toEqual([]);
    await user.click(screen.getByTestId("join-button"));
    expect(callsOf("join")).toEqual([{ invite: "parley-invite:LINK" }]);
  });

  it("takes a link opened while it runs; with an account here, says it was not used", async () => {
    mockCommands({
      app_state: () => ({ state: "welcome", invite: null }),
      preview_invite: () => preview,
    });
    const first = renderApp();
    await screen.findByTestId("invite-input");
    act(() => emit({ kind: "invite_link", invite: "parley-invite:LATER" }));
    expect(await screen.findByTestId("preview-org-name")).toHaveTextContent("Acme Corp");
    expect(callsOf("preview_invite")).toEqual([{ invite: "parley-invite:LATER" }]);

    first.unmount();
    mockCommands({ app_state: () => ({ state: "ready", me }), conversations: () => [], directory: () => [] });
    renderApp();
    await screen.findByTestId("org-name");
    act(() => emit({ kind: "invite_link", invite: "parley-invite:AGAIN" }));
    expect(await screen.findByTestId("app-notice")).toHaveTextContent(/already has a Parley account/);
  });
});
