// Every Tauri command of the Rust side, typed (app/src-tauri/src/commands.rs). Command
// arguments are camelCase here (Tauri converts them); fields inside DTOs stay as in
// bindings.ts. Errors reject with a CommandError {code, message}.

import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { open } from "@tauri-apps/plugin-dialog";
import {
  isPermissionGranted,
  requestPermission,
  sendNotification,
} from "@tauri-apps/plugin-notification";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type {
  AppState,
  AuditLine,
  Chat,
  ChatSummary,
  Connection,
  GroupDetails,
  InvitePreview,
  Item,
  ItemRef,
  Me,
  Notify,
  NotifyState,
  OrgPolicy,
  Person,
  PresenceDto,
  PresenceKind,
  Progress,
  StatusDto,
  TaskChangeDto,
  TaskDto,
  TaskQuery,
  UiEvent,
} from "./bindings";

export const EVENT = "parley://event";

export const appState = () => invoke<AppState>("app_state");
export const whoami = () => invoke<Me>("whoami");
export const connectionState = () => invoke<Connection>("connection_state");
export const previewInvite = (invite: string) => invoke<InvitePreview>("preview_invite", { invite });
export const join = (invite: string) => invoke<Me>("join", { invite });
export const createOrg = (a: {
  relay: string;
  tlsPin: string | null;
  tlsBackupPin: string | null;
  setupToken: string;
  user: string;
  orgName: string;
}) =>
  invoke<Me>("create_org", {
    relay: a.relay,
    tlsPin: a.tlsPin,
    tlsBackupPin: a.tlsBackupPin,
    setupToken: a.setupToken,
    user: a.user,
    orgName: a.orgName,
  });
/** A one-time code (valid for an hour) that links a further computer to this account. */
export const linkCode = () => invoke<string>("link_code");
/** Whether the store key is kept in the system keyring (else in a file beside the account). */
export const keyInKeystore = () => invoke<boolean>("key_in_keystore");
export const conversations = () => invoke<ChatSummary[]>("conversations");
export const timeline = (chat: Chat, before: number | null, limit: number) =>
  invoke<Item[]>("timeline", { chat, before, limit });
export const readChat = (chat: Chat) => invoke<number>("read_chat", { chat });
export const presence = () => invoke<PresenceDto[]>("presence");
export const setPresence = (state: PresenceKind) => invoke<null>("set_presence", { state });
export const setDisappearing = (chat: Chat, secs: number) =>
  invoke<null>("set_disappearing", { chat, secs });
/** Lets a user post in the company channel beside the admins, or no longer (admins only). */
export const setPoster = (user: string, poster: boolean) => invoke<null>("set_poster", { user, poster });
export const statuses = () => invoke<StatusDto[]>("statuses");
/** Sets (empty: clears) this user's status text; returns how many colleagues were told. */
export const setStatus = (text: string, until: number | null) => invoke<number>("set_status", { text, until });
export const tasks = (query: TaskQuery) => invoke<TaskDto[]>("tasks", { query });
export const createTask = (a: {
  chat: Chat;
  title: string;
  assignee: string;
  deadline: number | null;
  description: string | null;
}) =>
  invoke<string>("create_task", {
    chat: a.chat,
    title: a.title,
    assignee: a.assignee,
    deadline: a.deadline,
    description: a.description,
  });
export const changeTask = (chat: Chat, id: string, change: TaskChangeDto) =>
  invoke<null>("change_task", { chat, id, change });
/** Seconds before a deadline this device reminds (0: only at it). */
export const taskReminderLead = () => invoke<number>("task_reminder_lead");
export const setTaskReminderLead = (secs: number) => invoke<null>("set_task_reminder_lead", { secs });
export const setNotify = (chat: Chat, level: Notify, mutedUntil: number) =>
  invoke<NotifyState>("set_notify", { chat, level, mutedUntil });
export const sendText = (chat: Chat, text: string, replyTo: ItemRef | null) =>
  invoke<string | null>("send_text", { chat, text, replyTo });
export const editMessage = (chat: Chat, id: string, text: string) =>
  invoke<null>("edit_message", { chat, id, text });
export const deleteMessage = (chat: Chat, id: string) => invoke<null>("delete_message", { chat, id });
export const react = (chat: Chat, target: ItemRef, emoji: string, remove: boolean) =>
  invoke<null>("react", { chat, target, emoji, remove });
export const typing = (chat: Chat, started: boolean) => invoke<null>("typing", { chat, started });
export const sendFile = (
  chat: Chat,
  path: string,
  caption: string | null,
  onProgress: (p: Progress) => void,
) => {
  const progress = new Channel<Progress>();
  progress.onmessage = onProgress;
  return invoke<string | null>("send_file", { chat, path, caption, progress });
};
export const saveFile = (author: string, id: string, dir: string) =>
  invoke<string>("save_file", { author, id, dir });
export const imagePreview = (author: string, id: string) =>
  invoke<string | null>("image_preview", { author, id });
export const directory = () => invoke<Person[]>("directory");
export const searchDirectory = (query: string, former: boolean) =>
  invoke<string[]>("search_directory", { query, former });
export const safetyNumber = (user: string) => invoke<string>("safety_number", { user });
export type GroupChangeKind = "add" | "remove" | "promote" | "demote" | "rename" | "leave" | "announce_on" | "announce_off";
export const groupDetails = (chat: Chat) => invoke<GroupDetails>("group_details", { chat });
export const changeGroup = (chat: Chat, change: GroupChangeKind, members: string[], name: string | null) =>
  invoke<GroupDetails>("change_group", { chat, change, members, name });
export const createGroup = (name: string, members: string[]) =>
  invoke<Chat>("create_group", { name, members });
export const inviteUser = (a: {
  user: string;
  displayName: string;
  email: string;
  title: string;
  department: string;
  admin: boolean;
}) =>
  invoke<string>("invite_user", {
    user: a.user,
    displayName: a.displayName,
    email: a.email,
    title: a.title,
    department: a.department,
    admin: a.admin,
  });
export type RevokeReason = "lost" | "logout" | "replaced";
export const revokeDevice = (user: string, device: number, reason: RevokeReason) =>
  invoke<null>("revoke_device", { user, device, reason });
export const dismissUser = (user: string) => invoke<null>("dismiss_user", { user });
export const orderWipe = (user: string, device: number) => invoke<null>("order_wipe", { user, device });
export const policy = () => invoke<OrgPolicy>("policy");
export const setPolicy = (p: OrgPolicy) => invoke<null>("set_policy", { policy: p });
export const audit = () => invoke<AuditLine[]>("audit");

/** Subscribes to the engine's events; resolves to the unsubscribe function. */
export const onEvent = (handler: (e: UiEvent) => void) =>
  listen<UiEvent>(EVENT, (ev) => handler(ev.payload));

/** The system's open dialog for one file; its path, or null when cancelled. */
export async function chooseFile(): Promise<string | null> {
  const r = await open({ multiple: false, directory: false });
  return typeof r === "string" ? r : null;
}

/** The system's dialog for a folder; its path, or null when cancelled. */
export async function chooseFolder(): Promise<string | null> {
  const r = await open({ multiple: false, directory: true });
  return typeof r === "string" ? r : null;
}

/** A desktop notification, asking for permission the first time (best effort). */
export async function notify(title: string, body: string): Promise<void> {
  try {
    let granted = await isPermissionGranted();
    if (!granted) granted = (await requestPermission()) === "granted";
    if (granted) sendNotification({ title, body });
  } catch {
    /* notifications are best effort */
  }
}

/** The document's and the native window's title. */
export function setWindowTitle(title: string): void {
  document.title = title;
  try {
    void getCurrentWindow()
      .setTitle(title)
      .catch(() => {});
  } catch {
    /* not in Tauri (tests, browser) */
  }
}

/** The unread count on the app's launcher or taskbar icon, where the desktop shows one (a
 * desktop without badges ignores it; the window title carries the count anyway). */
export function setUnreadBadge(unread: number): void {
  try {
    void getCurrentWindow()
      .setBadgeCount(unread > 0 ? unread : undefined)
      .catch(() => {});
  } catch {
    /* not in Tauri (tests, browser) */
  }
}

/** Whether the window has the focus. */
export const windowFocused = () => document.hasFocus();
