// Generated from app/src-tauri/src/dto.rs by `cargo test -p parley-app --test bindings`
// with PARLEY_BLESS=1. Do not edit.

export type CommandError = { 
/**
 * Stable, snake case (`relay_unreachable`, `not_admin`, …).
 */
code: string, 
/**
 * A sentence for people; never holds keys or message contents.
 */
message: string, };

export type Chat = { "kind": "user", 
/**
 * The other person.
 */
user: string, } | { "kind": "group", 
/**
 * Its id, 64 lowercase hex digits.
 */
group: string, };

export type ItemRef = { 
/**
 * Its author.
 */
author: string, 
/**
 * The author's id of it.
 */
id: string, };

export type Status = "sending" | "sent" | "delivered" | "read" | "failed" | "received" | "seen";

export type ItemBody = { "kind": "text", 
/**
 * The text (its latest edit).
 */
text: string, 
/**
 * The message it answers.
 */
reply_to: ItemRef | null, } | { "kind": "file", 
/**
 * Its name as the sender gave it.
 */
name: string, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * Its MIME type as the sender gave it.
 */
mime: string, 
/**
 * Caption.
 */
caption: string | null, 
/**
 * The message it answers.
 */
reply_to: ItemRef | null, } | { "kind": "deleted" } | { "kind": "reaction", 
/**
 * The message reacted to.
 */
target: ItemRef, 
/**
 * The emoji.
 */
emoji: string, 
/**
 * True when the reaction was taken back.
 */
remove: boolean, } | { "kind": "group", 
/**
 * What changed.
 */
change: GroupEvent, } | { "kind": "timer", 
/**
 * Seconds.
 */
secs: number, } | { "kind": "task", 
/**
 * The task's id, 32 hex digits.
 */
task: string, 
/**
 * Its title (filled in from the task where the row does not carry it).
 */
title: string | null, 
/**
 * What changed.
 */
change: TaskEvent, };

export type GroupEvent = { "kind": "created", 
/**
 * Its name.
 */
name: string, 
/**
 * Members.
 */
members: Array<string>, } | { "kind": "added", 
/**
 * Who.
 */
members: Array<string>, } | { "kind": "removed", 
/**
 * Who.
 */
members: Array<string>, } | { "kind": "renamed", 
/**
 * The new name.
 */
name: string, } | { "kind": "promoted", 
/**
 * Who.
 */
members: Array<string>, } | { "kind": "demoted", 
/**
 * Who.
 */
members: Array<string>, } | { "kind": "announcement", 
/**
 * Whether only admins post.
 */
on: boolean, };

export type Item = { 
/**
 * Its author.
 */
author: string, 
/**
 * True when this user wrote it.
 */
outgoing: boolean, 
/**
 * The author's id of it (32 hex digits).
 */
id: string, 
/**
 * The author's send time, ms.
 */
sent_at: number, 
/**
 * Its place in the conversation (local ms); the cursor for older pages.
 */
stamp: number, 
/**
 * Delivery state.
 */
status: Status, 
/**
 * Whether its author edited it.
 */
edited: boolean, 
/**
 * What it says.
 */
body: ItemBody, };

export type Notify = "all" | "mentions" | "none";

export type NotifyState = { 
/**
 * When it notifies.
 */
level: Notify, 
/**
 * Silent until then (ms since the Unix epoch); 0: not muted.
 */
muted_until: number, };

export type DisappearingState = { 
/**
 * The conversation's timer, seconds (0: off).
 */
secs: number, 
/**
 * The org's maximum, seconds (0: none).
 */
max_secs: number, };

export type PresenceKind = "online" | "away" | "offline";

export type PresenceDto = { 
/**
 * Whose.
 */
user: string, 
/**
 * Online, away or offline.
 */
state: PresenceKind, 
/**
 * When they were last active (ms), unless they hide it.
 */
last_seen: number | null, };

export type StatusDto = { 
/**
 * Whose.
 */
user: string, 
/**
 * The text; empty when cleared.
 */
text: string, 
/**
 * When it clears itself (ms).
 */
until: number | null, };

export type ChatSummary = { 
/**
 * Which.
 */
chat: Chat, 
/**
 * A group's name, or the peer's display name.
 */
title: string, 
/**
 * Members (the peer for a 1:1 conversation).
 */
members: Array<string>, 
/**
 * The latest message or file.
 */
last: Item | null, 
/**
 * When anything last happened in it (local ms).
 */
active_at: number, 
/**
 * Messages from others not read yet.
 */
unread: number, 
/**
 * When it notifies.
 */
notify: NotifyState, 
/**
 * Its disappearing-message timer.
 */
disappearing: DisappearingState, 
/**
 * This user only reads and reacts here (the company channel, for all but org admins).
 */
read_only: boolean, };

export type GroupDetails = { 
/**
 * Which.
 */
chat: Chat, 
/**
 * Its name.
 */
name: string, 
/**
 * Its members (user ids, sorted).
 */
members: Array<string>, 
/**
 * Its admins, who may change it (anyone may leave).
 */
admins: Array<string>, 
/**
 * An announcement channel: only its admins post.
 */
announcement: boolean, };

export type Me = { 
/**
 * User id.
 */
user: string, 
/**
 * Display name from the directory.
 */
display_name: string, 
/**
 * This device's number.
 */
device: number, 
/**
 * The org's name.
 */
org_name: string, 
/**
 * The relay's address.
 */
relay: string, 
/**
 * Whether this user is an admin in the verified org log.
 */
admin: boolean, };

export type GoneReason = "wiped" | "signed_out" | "lost" | "replaced" | "dismissed" | "offline_wiped";

export type AppState = { "state": "welcome", 
/**
 * The invite or link code the app was opened with (a `parley-invite:` link), to
 * preview and join.
 */
invite: string | null, } | { "state": "ready", 
/**
 * Whose.
 */
me: Me, } | { "state": "locked", 
/**
 * Why.
 */
error: CommandError, } | { "state": "gone", 
/**
 * Why.
 */
reason: GoneReason, };

export type InvitePreview = { 
/**
 * The org's name, from its verified log.
 */
org_name: string, 
/**
 * The relay's address.
 */
relay: string, 
/**
 * Whether the relay's TLS key is pinned.
 */
pinned: boolean, 
/**
 * The user id it enrols.
 */
user: string, 
/**
 * Their display name as an admin entered it.
 */
display_name: string, 
/**
 * False for a link code (a further device of an existing user).
 */
new_user: boolean, };

export type Person = { 
/**
 * User id.
 */
user: string, 
/**
 * Display name.
 */
display_name: string, 
/**
 * Email.
 */
email: string, 
/**
 * Job title.
 */
title: string, 
/**
 * Department.
 */
department: string, 
/**
 * Phone or extension.
 */
phone: string, 
/**
 * Whether an admin.
 */
admin: boolean, 
/**
 * Whether dismissed.
 */
dismissed: boolean, 
/**
 * Whether appointed to post in the company channel (admins post anyway).
 */
poster: boolean, 
/**
 * Every device the log ever added for them.
 */
devices: Array<Device>, };

export type Device = { 
/**
 * Its number.
 */
device: number, 
/**
 * When it was added, ms.
 */
added_at: number, 
/**
 * Why it was revoked (`lost`, `logout`, `replaced`, `dismissed`, `wiped`), if it was.
 */
revoked: string | null, };

export type Progress = { 
/**
 * Bytes done.
 */
done: number, 
/**
 * Bytes in all.
 */
total: number, };

export type Connection = "online" | "connecting";

export type UiEvent = { "kind": "invite_link", 
/**
 * The invite or link code.
 */
invite: string, } | { "kind": "changed", 
/**
 * Which.
 */
chat: Chat, 
/**
 * A new message or file from someone else, to notify about.
 */
notify: Item | null, } | { "kind": "task_reminder", 
/**
 * The task.
 */
task: TaskDto, 
/**
 * Which reminder.
 */
reminder: ReminderDto, } | { "kind": "status", 
/**
 * It.
 */
status: StatusDto, } | { "kind": "presence", 
/**
 * Theirs.
 */
presence: PresenceDto, } | { "kind": "typing", 
/**
 * Where.
 */
chat: Chat, 
/**
 * Who.
 */
user: string, 
/**
 * Started or stopped.
 */
started: boolean, } | { "kind": "devices_changed", 
/**
 * Whose.
 */
user: string, 
/**
 * Added.
 */
added: Array<number>, 
/**
 * Revoked.
 */
revoked: Array<number>, } | { "kind": "trust_alarm", 
/**
 * What was seen.
 */
error: CommandError, } | { "kind": "dropped", 
/**
 * From whom.
 */
from: string, 
/**
 * Why.
 */
error: CommandError, } | { "kind": "connection", 
/**
 * Now.
 */
state: Connection, } | { "kind": "gone", 
/**
 * Why.
 */
reason: GoneReason, };

export type AuditLine = { 
/**
 * Its position.
 */
seq: number, 
/**
 * When it was signed, ms.
 */
at: number, 
/**
 * Its kind (`org-created`, `device-revoked`, `wipe-ordered`, `wipe-done`, …).
 */
kind: string, 
/**
 * The user it is about.
 */
user: string | null, 
/**
 * The device it is about.
 */
device: number | null, 
/**
 * A name it carries (the org's, or a user's display name), or a revocation's reason.
 */
detail: string | null, 
/**
 * Who signed it: `root`, `invite_key`, or `user.device`.
 */
signer: string, };

export type OrgPolicy = { 
/**
 * Lock after this long offline (seconds; 0: never).
 */
offline_lock_secs: number, 
/**
 * Wipe after this long offline (seconds; 0: never).
 */
offline_wipe_secs: number, 
/**
 * The store needs the relay's per-device secret to open.
 */
remote_secret: boolean, 
/**
 * Longest disappearing-message timer (seconds; 0: no limit).
 */
max_disappearing_secs: number, 
/**
 * Presence and typing shared.
 */
presence: boolean, };

export type TaskStatusDto = "open" | "in_progress" | "done" | "reopened";

export type TaskCommentDto = { 
/**
 * Who wrote it.
 */
author: string, 
/**
 * When (ms).
 */
at: number, 
/**
 * What it says.
 */
text: string, };

export type TaskDto = { 
/**
 * Its id, 32 hex digits.
 */
id: string, 
/**
 * The conversation it is in.
 */
chat: Chat, 
/**
 * What is to be done.
 */
title: string, 
/**
 * More words about it.
 */
description: string | null, 
/**
 * Who created it.
 */
creator: string, 
/**
 * Who is to do it.
 */
assignee: string, 
/**
 * When it is due (ms).
 */
deadline: number | null, 
/**
 * Where it stands.
 */
status: TaskStatusDto, 
/**
 * Not done and past its deadline.
 */
overdue: boolean, 
/**
 * When it was created (ms).
 */
created_at: number, 
/**
 * When it last changed (ms).
 */
updated_at: number, 
/**
 * Comments, oldest first.
 */
comments: Array<TaskCommentDto>, };

export type TaskChangeDto = { "kind": "status", 
/**
 * It.
 */
status: TaskStatusDto, } | { "kind": "assign", 
/**
 * Who.
 */
assignee: string, } | { "kind": "deadline", 
/**
 * It.
 */
deadline: number | null, } | { "kind": "comment", 
/**
 * What it says.
 */
text: string, };

export type TaskEvent = { "kind": "created", 
/**
 * Who is to do it.
 */
assignee: string, 
/**
 * When it is due (ms).
 */
deadline: number | null, } | { "kind": "status", 
/**
 * It.
 */
status: TaskStatusDto, } | { "kind": "assigned", 
/**
 * Whom.
 */
assignee: string, } | { "kind": "deadline", 
/**
 * It (ms).
 */
deadline: number | null, } | { "kind": "comment", 
/**
 * What it says.
 */
text: string, };

export type TaskQuery = { 
/**
 * Only those assigned to this user.
 */
mine: boolean, 
/**
 * Only those this user created.
 */
by_me: boolean, 
/**
 * Only overdue ones.
 */
overdue: boolean, 
/**
 * Done ones too.
 */
done: boolean, 
/**
 * Only this conversation's.
 */
chat: Chat | null, };

export type ReminderDto = "soon" | "due";
