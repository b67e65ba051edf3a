import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { AuditLine } from "../bindings";
import { callsOf, mockCommands } from "../test/tauri";
import { me, people } from "../test/fixtures";
import { renderApp } from "./render";

const audit: AuditLine[] = [
  { seq: 1, at: Date.UTC(2025, 0, 1), kind: "org-created", user: null, device: null, detail: "Acme Corp", signer: "root" },
  { seq: 2, at: Date.UTC(2025, 0, 2), kind: "device-revoked", user: "bob", device: 1, detail: "lost", signer: "alice.1" },
  { seq: 3, at: Date.UTC(2025, 0, 3), kind: "wipe-done", user: "bob", device: 1, detail: null, signer: "bob.1" },
];

function setup() {
  mockCommands({
    app_state: () => ({ state: "ready", me }),
    conversations: () => [],
    directory: () => people,
    order_wipe: () => null,
    revoke_device: () => null,
    dismiss_user: () => null,
    set_poster: () => null,
    invite_user: () => "parley-invite:SECRET",
    policy: () => ({ offline_lock_secs: 7200, offline_wipe_secs: 0, remote_secret: false, max_disappearing_secs: 0, presence: true }),
    set_policy: () => null,
    audit: () => audit,
  });
}

async function openAdmin() {
  const user = userEvent.setup();
  renderApp();
  await user.click(await screen.findByTestId("nav-admin"));
  return user;
}

const row = (u: string, d: number) =>
  screen.getAllByTestId("device-row").find((r) => r.getAttribute("data-user") === u && r.getAttribute("data-device") === String(d))!;

describe("admin console", () => {
  it("lists users and devices with revocations", async () => {
    setup();
    await openAdmin();
    const bob = screen.getAllByTestId("admin-user").find((u) => u.getAttribute("data-user") === "bob")!;
    expect(bob).toHaveTextContent("Bob Smith");
    expect(row("bob", 1)).toHaveAttribute("data-revoked", "lost");
    expect(row("bob", 2)).toHaveAttribute("data-revoked", "");
    expect(within(row("bob", 1)).queryByTestId("device-wipe")).toBeNull();
    expect(within(row("bob", 2)).getByTestId("device-wipe")).toBeInTheDocument();
  });

  it("appoints a poster of the company channel; admins and former colleagues have no switch", async () => {
    setup();
    const user = await openAdmin();
    const card = (u: string) => screen.getAllByTestId("admin-user").find((x) => x.getAttribute("data-user") === u)!;
    expect(within(card("alice")).queryByTestId("user-poster")).toBeNull();
    expect(within(card("carol")).queryByTestId("user-poster")).toBeNull();
    const toggle = within(card("bob")).getByTestId("user-poster");
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    expect(callsOf("set_poster")).toEqual([{ user: "bob", poster: true }]);
  });

  it("wipe asks naming the user and device; Cancel (focused) does nothing", async () => {
    setup();
    const user = await openAdmin();
    await user.click(within(row("bob", 2)).getByTestId("device-wipe"));
    const dialog = screen.getByTestId("confirm-dialog");
    expect(dialog).toHaveTextContent("Wipe device 2 of Bob Smith (bob)?");
    expect(screen.getByTestId("confirm-cancel")).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(callsOf("order_wipe")).toEqual([]);
    await user.click(within(row("bob", 2)).getByTestId("device-wipe"));
    await user.keyboard("{Escape}");
    expect(callsOf("order_wipe")).toEqual([]);
    await user.click(within(row("bob", 2)).getByTestId("device-wipe"));
    await user.click(screen.getByTestId("confirm-ok"));
    expect(callsOf("order_wipe")).toEqual([{ user: "bob", device: 2 }]);
  });

  it("sign out and revoke use the reasons logout and lost; dismiss names the user", async () => {
    setup();
    const user = await openAdmin();
    await user.click(within(row("bob", 2)).getByTestId("device-logout"));
    expect(screen.getByTestId("confirm-dialog")).toHaveTextContent("Sign out device 2 of Bob Smith (bob)?");
    await user.click(screen.getByTestId("confirm-ok"));
    await user.click(within(row("bob", 2)).getByTestId("device-revoke"));
    await user.click(screen.getByTestId("confirm-ok"));
    expect(callsOf("revoke_device")).toEqual([
      { user: "bob", device: 2, reason: "logout" },
      { user: "bob", device: 2, reason: "lost" },
    ]);
    const olga = screen.getAllByTestId("admin-user").find((u) => u.getAttribute("data-user") === "olga")!;
    await user.click(within(olga).getByTestId("user-dismiss"));
    expect(screen.getByTestId("confirm-dialog")).toHaveTextContent("Dismiss Ольга Сёмина (olga)?");
    await user.click(screen.getByTestId("confirm-ok"));
    expect(callsOf("dismiss_user")).toEqual([{ user: "olga" }]);
  });

  it("creates an invite and shows it to hand over", async () => {
    setup();
    const user = await openAdmin();
    await user.click(screen.getByTestId("admin-tab-invite"));
    await user.type(screen.getByTestId("invite-user"), "dave");
    await user.type(screen.getByTestId("invite-display-name"), "Dave Brown");
    await user.type(screen.getByTestId("invite-email"), "dave@acme.test");
    await user.type(screen.getByTestId("invite-title"), "Engineer");
    await user.type(screen.getByTestId("invite-department"), "R&D");
    await user.click(screen.getByTestId("invite-admin"));
    await user.click(screen.getByTestId("invite-submit"));
    expect(callsOf("invite_user")).toEqual([
      { user: "dave", displayName: "Dave Brown", email: "dave@acme.test", title: "Engineer", department: "R&D", admin: true },
    ]);
    expect(await screen.findByTestId("invite-text")).toHaveValue("parley-invite:SECRET");
    expect(screen.getByText(/privately/)).toBeInTheDocument();
  });

  it("edits the policy in hours", async () => {
    setup();
    const user = await openAdmin();
    await user.click(screen.getByTestId("admin-tab-policy"));
    const lock = await screen.findByTestId("policy-lock");
    expect(lock).toHaveValue(2);
    await user.clear(screen.getByTestId("policy-wipe"));
    await user.type(screen.getByTestId("policy-wipe"), "48");
    await user.click(screen.getByTestId("policy-remote-secret"));
    await user.click(screen.getByTestId("policy-save"));
    expect(callsOf("set_policy")).toEqual([
      { policy: { offline_lock_secs: 7200, offline_wipe_secs: 48 * 3600, remote_secret: true, max_disappearing_secs: 0, presence: true } },
    ]);
    expect(await screen.findByText("Policy saved.")).toBeInTheDocument();
  });

  it("shows the audit log newest first, in words", async () => {
    setup();
    const user = await openAdmin();
    await user.click(screen.getByTestId("admin-tab-audit"));
    const lines = await screen.findAllByTestId("audit-line");
    expect(lines.map((l) => l.getAttribute("data-kind"))).toEqual(["wipe-done", "device-revoked", "org-created"]);
    expect(lines[0]).toHaveTextContent(
      "✔ Device 1 of Bob Smith (bob) wiped itself — receipt signed by the device, verified",
    );
    expect(lines[1]).toHaveTextContent("Device 1 of Bob Smith (bob) revoked (lost)");
    expect(lines[1]).toHaveTextContent("signed by Alice Admin (Device 1)");
    expect(lines[2]).toHaveTextContent("Organisation “Acme Corp” created");
  });

  it("is not there for non-admins", async () => {
    mockCommands({ app_state: () => ({ state: "ready", me: { ...me, admin: false } }), conversations: () => [], directory: () => people });
    renderApp();
    await screen.findByTestId("nav-settings");
    expect(screen.queryByTestId("nav-admin")).toBeNull();
  });
});
