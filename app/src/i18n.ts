// Parley's own tiny i18n: two dictionaries with the same keys (TypeScript enforces that
// `ru` has every key of `en` and no other), `{name}` interpolation and plural forms.

export type Lang = "en" | "ru";
export const LANGS: Lang[] = ["en", "ru"];

/** Plural forms: English uses `one`/`other`; Russian `one`/`few`/`many`. */
export type Plural = { one: string; few?: string; many?: string; other: string };
export type Msg = string | Plural;

const en = {
  "app.name": "Parley",
  "common.cancel": "Cancel",
  "common.ok": "OK",
  "common.close": "Close",
  "common.retry": "Retry",
  "common.loading": "Loading…",
  "common.copy": "Copy",
  "common.copied": "Copied",
  "common.wait": "Please wait…",

  "welcome.title": "Welcome to Parley",
  "welcome.subtitle":
    "Your organisation's private messenger. Messages are end-to-end encrypted: the relay never sees what you write.",
  "welcome.joinTab": "Join with an invite",
  "welcome.createTab": "Set up a new organisation",
  "welcome.inviteLabel": "Invite",
  "welcome.inviteHint": "Paste the invite text or parley-invite: link your administrator handed you.",
  "welcome.continue": "Continue",
  "welcome.previewOrg": "Organisation",
  "welcome.previewRelay": "Relay",
  "welcome.tlsPinned": "TLS pinned",
  "welcome.tlsNotPinned": "TLS not pinned",
  "welcome.previewUser": "You join as",
  "welcome.linkDevice": "Link this computer to your account {user}",
  "welcome.join": "Join {org}",
  "welcome.back": "Back",
  "welcome.relayUrl": "Relay address",
  "welcome.setupToken": "Setup token",
  "welcome.tlsPin": "TLS pin (optional, 64 hex digits)",
  "welcome.orgName": "Organisation name",
  "welcome.userId": "Your user id",
  "welcome.create": "Create organisation",

  "nav.chats": "Chats",
  "nav.directory": "Directory",
  "nav.admin": "Admin",
  "nav.settings": "Settings",
  "nav.label": "Sections",
  "conn.online": "Online",
  "conn.connecting": "Connecting…",

  "chats.search": "Search conversations (Ctrl+K)",
  "chats.listLabel": "Conversations",
  "chats.empty": "No conversations yet. Find a colleague in the Directory to start one.",
  "chats.noMatch": "No conversation matches.",
  "chats.newGroup": "New group",
  "chats.unread": { one: "{count} unread message", other: "{count} unread messages" },
  "preview.file": "📎 {name}",
  "preview.deleted": "Message deleted",
  "preview.group": "Group updated",
  "preview.reaction": "Reacted {emoji}",
  "preview.none": "No messages yet",
  "preview.you": "You: {text}",

  "group.title": "New group",
  "group.name": "Group name",
  "group.members": "Members",
  "group.create": "Create group",
  "group.needMembers": "Choose at least one member.",
  "group.manage": "Members",
  "group.rename": "Rename",
  "group.admin": "Group admin",
  "group.promote": "Make admin",
  "group.demote": "Remove admin",
  "group.remove": "Remove",
  "group.removeNamed": "Remove {name} from the group",
  "group.add": "Add members",
  "group.addOne": "Add",
  "group.leave": "Leave group",
  "group.leaveConfirm": "Leave \"{name}\"? You will no longer receive its messages unless someone adds you again.",

  "conv.members": { one: "{count} member", other: "{count} members" },
  "conv.safetyNumber": "Safety number",
  "conv.notifications": "Notifications",
  "conv.timer": "Disappearing messages",
  "conv.readOnly": "Only administrators post in the company channel. You can react to posts.",
  "presence.online": "online",
  "presence.away": "away",
  "presence.offline": "offline",
  "presence.lastSeen": "last seen {when}",
  "timer.title": "Disappearing messages: {name}",
  "timer.label": "Messages disappear after",
  "timer.off": "Off (kept)",
  "timer.explain": "For everyone in this conversation: new messages are deleted from every device and from the server when the time is up.",
  "timer.max": "Your organisation's policy: at most {time}.",
  "timer.save": "Save",
  "timer.set": "{actor} set messages to disappear after {time}",
  "timer.turnedOff": "{actor} turned disappearing messages off",
  "preview.timer": "Disappearing messages changed",
  "preview.task": "Task: {title}",
  "nav.tasks": "Tasks",
  "conv.tasks": "Tasks",
  "task.status.open": "Open",
  "task.status.in_progress": "In progress",
  "task.status.done": "Done",
  "task.status.reopened": "Reopened",
  "task.created": "{actor} created the task “{title}” for {name}",
  "task.createdDue": "{actor} created the task “{title}” for {name}, due {when}",
  "task.statusSet": "{actor} marked “{title}”: {status}",
  "task.assigned": "{actor} handed “{title}” to {name}",
  "task.deadlineSet": "{actor} set the deadline of “{title}” to {when}",
  "task.deadlineCleared": "{actor} removed the deadline of “{title}”",
  "task.commented": "{actor} on “{title}”: {text}",
  "task.untitled": "a task",
  "task.listTitle": "Tasks: {name}",
  "task.new": "New task",
  "task.newTitle": "New task in {name}",
  "task.title": "What is to be done",
  "task.assignee": "Assigned to",
  "task.deadline": "Deadline",
  "task.noDeadline": "No deadline",
  "task.description": "Details (optional)",
  "task.create": "Create task",
  "task.none": "No tasks here yet.",
  "task.noneMine": "Nothing to do. Tasks you are given, or hand out, appear here.",
  "task.by": "from {name}",
  "task.for": "for {name}",
  "task.due": "due {when}",
  "task.overdue": "overdue",
  "task.status": "Status",
  "task.setDeadline": "Set",
  "task.clearDeadline": "Clear",
  "task.comment": "Comment",
  "task.commentPlaceholder": "Add a comment…",
  "task.send": "Send",
  "task.open": "Open the conversation",
  "task.mine": "Assigned to me",
  "task.byMe": "Assigned by me",
  "task.overdueOnly": "Overdue",
  "task.showDone": "Show finished tasks",
  "task.in": "in {name}",
  "task.reminderSoon": "Due soon: {title}",
  "task.reminderDue": "Due now: {title}",
  "task.reminderBody": "{when} · {place}",
  "settings.status": "Your status",
  "settings.statusText": "Status text",
  "settings.statusPlaceholder": "On holiday, back on the 20th",
  "settings.statusLasting": "Clear after",
  "settings.statusForever": "Don't clear",
  "settings.statusSave": "Set status",
  "settings.statusClear": "Clear status",
  "settings.statusSet": { one: "Status set; {count} colleague told.", other: "Status set; {count} colleagues told." },
  "settings.statusCleared": { one: "Status cleared; {count} colleague told.", other: "Status cleared; {count} colleagues told." },
  "admin.poster": "May post in the company channel",
  "composer.mention": "Mention someone",
  "composer.mentionAll": "everyone in the group",
  "settings.reminders": "Task reminders",
  "settings.reminderLead": "Remind me before a deadline",
  "settings.reminderAtOnly": "Only at the deadline",
  "dur.seconds": { one: "{count} second", other: "{count} seconds" },
  "dur.minutes": { one: "{count} minute", other: "{count} minutes" },
  "dur.hours": { one: "{count} hour", other: "{count} hours" },
  "dur.days": { one: "{count} day", other: "{count} days" },
  "conv.muted": "Muted",
  "notify.title": "Notifications: {name}",
  "notify.when": "Notify me",
  "notify.all": "About every message",
  "notify.mentions": "Only when I am mentioned",
  "notify.none": "Never",
  "notify.mute": "Mute",
  "notify.notMuted": "Not muted",
  "notify.mutedUntil": "Muted until {time}",
  "notify.unmute": "Unmute now",
  "notify.for60": "For 1 hour",
  "notify.for480": "For 8 hours",
  "notify.for10080": "For 1 week",
  "notify.synced": "Applies on all your devices.",
  "notify.save": "Save",
  "conv.pick": "Choose a conversation",
  "conv.pickHint": "Or find a colleague in the Directory to start one.",
  "conv.empty": "No messages yet. Say hello!",
  "conv.loadingOlder": "Loading earlier messages…",
  "safety.title": "Safety number with {name}",
  "safety.explain":
    "Compare these digits with {name} in person or on a call you trust. If they match on both sides, nobody is listening in. If they ever change unexpectedly, ask why before you share anything sensitive.",

  "day.today": "Today",
  "day.yesterday": "Yesterday",

  "msg.deleted": "This message was deleted",
  "msg.edited": "edited",
  "msg.you": "You",
  "msg.actions": "Message actions",
  "msg.reply": "Reply",
  "msg.react": "React",
  "msg.edit": "Edit",
  "msg.delete": "Delete",
  "msg.save": "Save…",
  "msg.savedTo": "Saved to {path}",
  "msg.deleteTitle": "Delete message",
  "msg.deleteConfirm": "Delete this message for everyone in the conversation? This cannot be undone.",
  "msg.quoteMissing": "An earlier message",
  "msg.reactWith": "React with {emoji}",
  "msg.reactionChip": "{emoji} {count}, click to remove yours",
  "msg.imageAlt": "Image {name}",
  "status.sending": "Sending",
  "status.sent": "Sent",
  "status.delivered": "Delivered",
  "status.read": "Read",
  "status.failed": "Not sent",

  "groupEv.created": "{actor} created the group “{name}”",
  "groupEv.added": "{actor} added {members}",
  "groupEv.removed": "{actor} removed {members}",
  "groupEv.renamed": "{actor} renamed the group to “{name}”",
  "groupEv.promoted": "{actor} made {members} group admin",
  "groupEv.demoted": "{actor} took group admin rights from {members}",

  "composer.placeholder": "Write a message",
  "composer.label": "Message",
  "composer.send": "Send",
  "composer.attach": "Attach a file",
  "composer.replyingTo": "Replying to {name}",
  "composer.editing": "Editing your message",
  "composer.cancel": "Cancel (Esc)",
  "composer.upload": "Sending {name}",
  "composer.typing": "{name} is typing…",

  "banner.devicesChanged": "{name}'s devices changed (added {added}, revoked {revoked})",
  "banner.devicesHint": "If you did not expect this, check with them in person before sharing anything sensitive.",
  "banner.dismiss": "Dismiss",
  "banner.trustTitle": "Security alarm",
  "banner.trust":
    "The relay showed this computer an organisation log that does not verify. Someone may be tampering with the relay. Tell your security team now, and share nothing sensitive until they have checked.",
  "banner.ack": "I have told the security team",
  "notice.dropped": "A message from {name} could not be read: {message}",

  "dir.search": "Search people",
  "dir.showFormer": "Show former colleagues",
  "dir.admin": "Admin",
  "dir.former": "Former colleague",
  "dir.message": "Message",
  "dir.devices": "Devices",
  "dir.device": "Device {n}",
  "dir.addedOn": "added {date}",
  "dir.revoked": "revoked: {reason}",
  "dir.active": "active",
  "dir.noResults": "Nobody matches.",
  "dir.select": "Select a colleague to see their details.",
  "dir.email": "Email",
  "dir.phone": "Phone",
  "dir.title": "Job title",
  "dir.department": "Department",
  "dir.count": { one: "{count} person", other: "{count} people" },

  "reason.lost": "lost",
  "reason.logout": "signed out",
  "reason.replaced": "replaced",
  "reason.dismissed": "dismissed",
  "reason.wiped": "wiped",

  "admin.title": "Administration",
  "admin.users": "Users",
  "admin.invite": "Invite",
  "admin.policy": "Policy",
  "admin.audit": "Audit log",
  "admin.signOut": "Sign out",
  "admin.revokeLost": "Revoke (lost)",
  "admin.wipe": "Wipe",
  "admin.dismiss": "Dismiss",
  "admin.noDevices": "No devices yet (invite not used).",
  "admin.done": "Done.",
  "confirm.title": "Please confirm",
  "confirm.logout":
    "Sign out device {device} of {name} ({user})? It loses access to Parley at once and erases the account on that computer.",
  "confirm.lost":
    "Revoke device {device} of {name} ({user}) as lost? It will never read another message. Consider wiping it too.",
  "confirm.wipe":
    "Wipe device {device} of {name} ({user})? Everything of Parley on that device is erased the next time it connects. This cannot be undone.",
  "confirm.dismiss":
    "Dismiss {name} ({user})? Every device of theirs is revoked and they leave the directory. This cannot be undone.",
  "confirm.logoutOk": "Sign out device",
  "confirm.lostOk": "Revoke device",
  "confirm.wipeOk": "Wipe device",
  "confirm.dismissOk": "Dismiss user",
  "invite.user": "User id",
  "invite.displayName": "Display name",
  "invite.email": "Email",
  "invite.title": "Job title",
  "invite.department": "Department",
  "invite.admin": "Administrator",
  "invite.submit": "Create invite",
  "invite.result": "Invite for {name}",
  "invite.handOver":
    "Hand this invite to {name} privately — in person or over a channel you trust. Whoever holds it can join as {name}; it works once.",
  "policy.lockHours": "Lock after being offline for (hours, 0 = never)",
  "policy.wipeHours": "Wipe after being offline for (hours, 0 = never)",
  "policy.remoteSecret": "The app needs the relay's secret to open (a stolen disk alone is useless)",
  "policy.maxDisappearing": "Longest disappearing-message timer (hours, 0 = no limit)",
  "policy.presence": "Share presence and typing notifications",
  "policy.save": "Save policy",
  "policy.saved": "Policy saved.",
  "audit.empty": "The log is empty.",
  "audit.signedBy": "signed by {signer}",
  "audit.signer.root": "the organisation's root key",
  "audit.signer.invite_key": "an invite",
  "audit.kind.org-created": "Organisation “{detail}” created",
  "audit.kind.admin-added": "{user} made an administrator",
  "audit.kind.admin-removed": "{user} is no longer an administrator",
  "audit.kind.user-added": "{user} added to the directory",
  "audit.kind.user-updated": "Directory entry of {user} updated",
  "audit.kind.invite-issued": "Invite issued for {user}",
  "audit.kind.device-added": "Device {device} of {user} added",
  "audit.kind.device-revoked": "Device {device} of {user} revoked ({detail})",
  "audit.kind.user-dismissed": "{user} dismissed",
  "audit.kind.wipe-ordered": "Wipe of device {device} of {user} ordered",
  "audit.kind.wipe-done": "Device {device} of {user} wiped itself — receipt signed by the device, verified",
  "audit.kind.policy-set": "Organisation policy changed",
  "audit.kind.other": "Log entry “{kind}”",

  "settings.title": "Settings",
  "settings.language": "Language",
  "settings.theme": "Theme",
  "theme.system": "System",
  "theme.light": "Light",
  "theme.dark": "Dark",
  "settings.account": "Account",
  "settings.userId": "User id",
  "settings.device": "This device",
  "settings.org": "Organisation",
  "settings.relay": "Relay",
  "settings.myDevices": "My devices",
  "settings.thisDevice": "this device",
  "settings.link": "Link another computer",
  "settings.linkButton": "Create a link code",
  "settings.linkHint":
    "Paste this code on your other computer where Parley asks for an invite. It works once, within an hour. Keep it to yourself: whoever holds it can read your messages.",

  "gone.title": "Parley is no longer on this computer",
  "gone.wiped": "This device was wiped by your administrator. Nothing of your Parley account is left on this computer.",
  "gone.signed_out": "This device was signed out of Parley. Nothing of your Parley account is left on this computer.",
  "gone.lost":
    "This device was reported lost, and your administrator revoked it. Nothing of your Parley account is left on this computer.",
  "gone.replaced":
    "This device was replaced by a newer one of yours. Nothing of your Parley account is left on this computer.",
  "gone.dismissed":
    "Your organisation closed your Parley account. Nothing of your Parley account is left on this computer.",
  "gone.offline_wiped":
    "This device stayed offline longer than your organisation allows, so Parley erased itself. Nothing of your Parley account is left on this computer.",
  "gone.startAgain": "Start again",

  "locked.title": "Parley could not open",

  "err.relay_unreachable": "The relay cannot be reached. Check your network connection and try again.",
  "err.invite_invalid": "This invite is not valid or was already used. Ask your administrator for a new one.",
  "err.not_admin": "Only administrators can do this.",
  "err.not_a_poster": "Only administrators post in the company channel. You can react to posts.",
  "err.directory_group": "This group follows the directory: its members change when a colleague's department does.",
  "err.over_policy": "Your organisation's policy does not allow messages to last that long.",
  "err.not_authorized": "You are not allowed to do this.",
  "err.account_exists": "This computer already has a Parley account.",
  "err.invalid_pin": "The TLS pin must be 64 hex digits.",
  "err.invalid_user_id": "That user id is not valid.",
  "err.no_such_user": "There is no such user.",
  "err.offline_locked": "Parley is locked because this device was offline too long. Connect to the network and retry.",
  "err.too_large": "The file is too large.",
  "err.no_such_file": "The file cannot be found.",
  "err.insecure_relay": "The relay address must use https.",
  "err.not_open": "No Parley account is open.",
  "err.unknown": "Something went wrong.",
} satisfies Record<string, Msg>;

export type Key = keyof typeof en;
export type Dict = { [K in Key]: Msg };

const ru: Dict = {
  "app.name": "Parley",
  "common.cancel": "Отмена",
  "common.ok": "ОК",
  "common.close": "Закрыть",
  "common.retry": "Повторить",
  "common.loading": "Загрузка…",
  "common.copy": "Копировать",
  "common.copied": "Скопировано",
  "common.wait": "Подождите…",

  "welcome.title": "Добро пожаловать в Parley",
  "welcome.subtitle":
    "Закрытый мессенджер вашей организации. Сообщения защищены сквозным шифрованием: сервер-ретранслятор не видит, что вы пишете.",
  "welcome.joinTab": "Войти по приглашению",
  "welcome.createTab": "Создать новую организацию",
  "welcome.inviteLabel": "Приглашение",
  "welcome.inviteHint": "Вставьте текст приглашения или ссылку parley-invite:, которую вам передал администратор.",
  "welcome.continue": "Продолжить",
  "welcome.previewOrg": "Организация",
  "welcome.previewRelay": "Сервер",
  "welcome.tlsPinned": "TLS-ключ закреплён",
  "welcome.tlsNotPinned": "TLS-ключ не закреплён",
  "welcome.previewUser": "Вы войдёте как",
  "welcome.linkDevice": "Подключить этот компьютер к вашей учётной записи {user}",
  "welcome.join": "Войти в {org}",
  "welcome.back": "Назад",
  "welcome.relayUrl": "Адрес сервера",
  "welcome.setupToken": "Токен настройки",
  "welcome.tlsPin": "TLS-отпечаток (необязательно, 64 шестнадцатеричные цифры)",
  "welcome.orgName": "Название организации",
  "welcome.userId": "Ваш идентификатор",
  "welcome.create": "Создать организацию",

  "nav.chats": "Чаты",
  "nav.directory": "Сотрудники",
  "nav.admin": "Администрирование",
  "nav.settings": "Настройки",
  "nav.label": "Разделы",
  "conn.online": "В сети",
  "conn.connecting": "Подключение…",

  "chats.search": "Поиск по чатам (Ctrl+K)",
  "chats.listLabel": "Чаты",
  "chats.empty": "Чатов пока нет. Найдите коллегу в разделе «Сотрудники», чтобы начать переписку.",
  "chats.noMatch": "Ничего не найдено.",
  "chats.newGroup": "Новая группа",
  "chats.unread": {
    one: "{count} непрочитанное сообщение",
    few: "{count} непрочитанных сообщения",
    many: "{count} непрочитанных сообщений",
    other: "{count} непрочитанного сообщения",
  },
  "preview.file": "📎 {name}",
  "preview.deleted": "Сообщение удалено",
  "preview.group": "Группа изменена",
  "preview.reaction": "Реакция {emoji}",
  "preview.none": "Сообщений пока нет",
  "preview.you": "Вы: {text}",

  "group.title": "Новая группа",
  "group.name": "Название группы",
  "group.members": "Участники",
  "group.create": "Создать группу",
  "group.needMembers": "Выберите хотя бы одного участника.",
  "group.manage": "Участники",
  "group.rename": "Переименовать",
  "group.admin": "Администратор группы",
  "group.promote": "Сделать администратором",
  "group.demote": "Снять права администратора",
  "group.remove": "Исключить",
  "group.removeNamed": "Исключить {name} из группы",
  "group.add": "Добавить участников",
  "group.addOne": "Добавить",
  "group.leave": "Покинуть группу",
  "group.leaveConfirm": "Покинуть «{name}»? Вы перестанете получать её сообщения, пока вас снова не добавят.",

  "conv.members": {
    one: "{count} участник",
    few: "{count} участника",
    many: "{count} участников",
    other: "{count} участника",
  },
  "conv.safetyNumber": "Код безопасности",
  "conv.notifications": "Уведомления",
  "conv.timer": "Исчезающие сообщения",
  "conv.readOnly": "В общем канале компании пишут только администраторы. Вы можете ставить реакции.",
  "presence.online": "в сети",
  "presence.away": "отошёл",
  "presence.offline": "не в сети",
  "presence.lastSeen": "был(а) {when}",
  "timer.title": "Исчезающие сообщения: {name}",
  "timer.label": "Сообщения исчезают через",
  "timer.off": "Выключено (хранятся)",
  "timer.explain": "Для всех участников чата: новые сообщения удаляются со всех устройств и с сервера, когда выйдет время.",
  "timer.max": "Политика вашей организации: не дольше {time}.",
  "timer.save": "Сохранить",
  "timer.set": "{actor}: сообщения исчезают через {time}",
  "timer.turnedOff": "{actor}: исчезающие сообщения выключены",
  "preview.timer": "Изменён таймер исчезающих сообщений",
  "preview.task": "Задача: {title}",
  "nav.tasks": "Задачи",
  "conv.tasks": "Задачи",
  "task.status.open": "Открыта",
  "task.status.in_progress": "В работе",
  "task.status.done": "Выполнена",
  "task.status.reopened": "Открыта снова",
  "task.created": "{actor}: новая задача «{title}» для {name}",
  "task.createdDue": "{actor}: новая задача «{title}» для {name}, срок {when}",
  "task.statusSet": "{actor}: «{title}» — {status}",
  "task.assigned": "{actor} передаёт «{title}»: {name}",
  "task.deadlineSet": "{actor}: срок «{title}» — {when}",
  "task.deadlineCleared": "{actor} снимает срок «{title}»",
  "task.commented": "{actor} о «{title}»: {text}",
  "task.untitled": "задача",
  "task.listTitle": "Задачи: {name}",
  "task.new": "Новая задача",
  "task.newTitle": "Новая задача: {name}",
  "task.title": "Что сделать",
  "task.assignee": "Исполнитель",
  "task.deadline": "Срок",
  "task.noDeadline": "Без срока",
  "task.description": "Подробности (необязательно)",
  "task.create": "Создать задачу",
  "task.none": "Задач пока нет.",
  "task.noneMine": "Дел нет. Здесь появятся задачи, которые поручили вам или вы.",
  "task.by": "от {name}",
  "task.for": "для {name}",
  "task.due": "срок {when}",
  "task.overdue": "просрочена",
  "task.status": "Статус",
  "task.setDeadline": "Установить",
  "task.clearDeadline": "Снять",
  "task.comment": "Комментарий",
  "task.commentPlaceholder": "Добавить комментарий…",
  "task.send": "Отправить",
  "task.open": "Открыть чат",
  "task.mine": "Мне",
  "task.byMe": "Поручено мной",
  "task.overdueOnly": "Просроченные",
  "task.showDone": "Показывать выполненные",
  "task.in": "в чате {name}",
  "task.reminderSoon": "Скоро срок: {title}",
  "task.reminderDue": "Срок настал: {title}",
  "task.reminderBody": "{when} · {place}",
  "settings.status": "Ваш статус",
  "settings.statusText": "Текст статуса",
  "settings.statusPlaceholder": "В отпуске до 20-го",
  "settings.statusLasting": "Убрать через",
  "settings.statusForever": "Не убирать",
  "settings.statusSave": "Установить",
  "settings.statusClear": "Убрать статус",
  "settings.statusSet": {
    one: "Статус установлен; сообщено {count} коллеге.",
    few: "Статус установлен; сообщено {count} коллегам.",
    many: "Статус установлен; сообщено {count} коллегам.",
    other: "Статус установлен; сообщено {count} коллегам.",
  },
  "settings.statusCleared": {
    one: "Статус убран; сообщено {count} коллеге.",
    few: "Статус убран; сообщено {count} коллегам.",
    many: "Статус убран; сообщено {count} коллегам.",
    other: "Статус убран; сообщено {count} коллегам.",
  },
  "admin.poster": "Может писать в общий канал компании",
  "composer.mention": "Упомянуть",
  "composer.mentionAll": "все участники группы",
  "settings.reminders": "Напоминания о задачах",
  "settings.reminderLead": "Напоминать до срока",
  "settings.reminderAtOnly": "Только в срок",
  "dur.seconds": { one: "{count} секунду", few: "{count} секунды", many: "{count} секунд", other: "{count} секунды" },
  "dur.minutes": { one: "{count} минуту", few: "{count} минуты", many: "{count} минут", other: "{count} минуты" },
  "dur.hours": { one: "{count} час", few: "{count} часа", many: "{count} часов", other: "{count} часа" },
  "dur.days": { one: "{count} день", few: "{count} дня", many: "{count} дней", other: "{count} дня" },
  "conv.muted": "Без звука",
  "notify.title": "Уведомления: {name}",
  "notify.when": "Уведомлять",
  "notify.all": "О каждом сообщении",
  "notify.mentions": "Только когда меня упоминают",
  "notify.none": "Никогда",
  "notify.mute": "Без звука",
  "notify.notMuted": "Звук включён",
  "notify.mutedUntil": "Без звука до {time}",
  "notify.unmute": "Включить звук сейчас",
  "notify.for60": "На 1 час",
  "notify.for480": "На 8 часов",
  "notify.for10080": "На неделю",
  "notify.synced": "Действует на всех ваших устройствах.",
  "notify.save": "Сохранить",
  "conv.pick": "Выберите чат",
  "conv.pickHint": "Или найдите коллегу в разделе «Сотрудники».",
  "conv.empty": "Сообщений пока нет. Напишите первым!",
  "conv.loadingOlder": "Загружаем более ранние сообщения…",
  "safety.title": "Код безопасности с собеседником {name}",
  "safety.explain":
    "Сверьте эти цифры с собеседником ({name}) лично или по надёжному звонку. Если они совпадают у вас обоих, переписку никто не перехватывает. Если код неожиданно изменится, выясните причину, прежде чем передавать что-то важное.",

  "day.today": "Сегодня",
  "day.yesterday": "Вчера",

  "msg.deleted": "Это сообщение удалено",
  "msg.edited": "изменено",
  "msg.you": "Вы",
  "msg.actions": "Действия с сообщением",
  "msg.reply": "Ответить",
  "msg.react": "Реакция",
  "msg.edit": "Изменить",
  "msg.delete": "Удалить",
  "msg.save": "Сохранить…",
  "msg.savedTo": "Сохранено: {path}",
  "msg.deleteTitle": "Удаление сообщения",
  "msg.deleteConfirm": "Удалить это сообщение у всех участников чата? Отменить это будет нельзя.",
  "msg.quoteMissing": "Более раннее сообщение",
  "msg.reactWith": "Отреагировать: {emoji}",
  "msg.reactionChip": "{emoji} {count}, нажмите, чтобы убрать свою реакцию",
  "msg.imageAlt": "Изображение {name}",
  "status.sending": "Отправляется",
  "status.sent": "Отправлено",
  "status.delivered": "Доставлено",
  "status.read": "Прочитано",
  "status.failed": "Не отправлено",

  "groupEv.created": "{actor} создаёт группу «{name}»",
  "groupEv.added": "{actor} добавляет в группу: {members}",
  "groupEv.removed": "{actor} исключает из группы: {members}",
  "groupEv.renamed": "{actor} переименовывает группу в «{name}»",
  "groupEv.promoted": "{actor} назначает администраторами группы: {members}",
  "groupEv.demoted": "{actor} снимает права администратора группы: {members}",

  "composer.placeholder": "Напишите сообщение",
  "composer.label": "Сообщение",
  "composer.send": "Отправить",
  "composer.attach": "Прикрепить файл",
  "composer.replyingTo": "Ответ для {name}",
  "composer.editing": "Редактирование сообщения",
  "composer.cancel": "Отмена (Esc)",
  "composer.upload": "Отправляется {name}",
  "composer.typing": "{name} печатает…",

  "banner.devicesChanged": "Устройства пользователя {name} изменились (добавлено: {added}, отозвано: {revoked})",
  "banner.devicesHint": "Если вы этого не ожидали, уточните у коллеги лично, прежде чем передавать что-то важное.",
  "banner.dismiss": "Скрыть",
  "banner.trustTitle": "Угроза безопасности",
  "banner.trust":
    "Сервер показал этому компьютеру журнал организации, который не проходит проверку. Возможно, кто-то вмешивается в работу сервера. Немедленно сообщите службе безопасности и не передавайте ничего важного, пока она не разберётся.",
  "banner.ack": "Я сообщил(а) службе безопасности",
  "notice.dropped": "Не удалось прочитать сообщение от {name}: {message}",

  "dir.search": "Поиск сотрудников",
  "dir.showFormer": "Показывать бывших сотрудников",
  "dir.admin": "Администратор",
  "dir.former": "Бывший сотрудник",
  "dir.message": "Написать",
  "dir.devices": "Устройства",
  "dir.device": "Устройство {n}",
  "dir.addedOn": "добавлено {date}",
  "dir.revoked": "отозвано: {reason}",
  "dir.active": "активно",
  "dir.noResults": "Никого не найдено.",
  "dir.select": "Выберите сотрудника, чтобы увидеть подробности.",
  "dir.email": "Эл. почта",
  "dir.phone": "Телефон",
  "dir.title": "Должность",
  "dir.department": "Отдел",
  "dir.count": {
    one: "{count} сотрудник",
    few: "{count} сотрудника",
    many: "{count} сотрудников",
    other: "{count} сотрудника",
  },

  "reason.lost": "утеряно",
  "reason.logout": "выход из учётной записи",
  "reason.replaced": "заменено",
  "reason.dismissed": "сотрудник уволен",
  "reason.wiped": "стёрто",

  "admin.title": "Администрирование",
  "admin.users": "Пользователи",
  "admin.invite": "Приглашение",
  "admin.policy": "Политика",
  "admin.audit": "Журнал аудита",
  "admin.signOut": "Завершить сеанс",
  "admin.revokeLost": "Отозвать (утеряно)",
  "admin.wipe": "Стереть",
  "admin.dismiss": "Уволить",
  "admin.noDevices": "Устройств пока нет (приглашение не использовано).",
  "admin.done": "Готово.",
  "confirm.title": "Подтвердите действие",
  "confirm.logout":
    "Завершить сеанс на устройстве {device} пользователя {name} ({user})? Устройство сразу потеряет доступ к Parley, а учётная запись на нём будет удалена.",
  "confirm.lost":
    "Отозвать устройство {device} пользователя {name} ({user}) как утерянное? Оно больше не сможет прочитать ни одного сообщения. Возможно, его стоит и стереть.",
  "confirm.wipe":
    "Стереть устройство {device} пользователя {name} ({user})? Все данные Parley на нём будут удалены при следующем подключении. Отменить это будет нельзя.",
  "confirm.dismiss":
    "Уволить пользователя {name} ({user})? Все его устройства будут отозваны, а сам он исчезнет из списка сотрудников. Отменить это будет нельзя.",
  "confirm.logoutOk": "Завершить сеанс",
  "confirm.lostOk": "Отозвать устройство",
  "confirm.wipeOk": "Стереть устройство",
  "confirm.dismissOk": "Уволить",
  "invite.user": "Идентификатор",
  "invite.displayName": "Имя",
  "invite.email": "Эл. почта",
  "invite.title": "Должность",
  "invite.department": "Отдел",
  "invite.admin": "Администратор",
  "invite.submit": "Создать приглашение",
  "invite.result": "Приглашение для {name}",
  "invite.handOver":
    "Передайте это приглашение ({name}) лично или по каналу, которому вы доверяете. Любой, у кого оно окажется, сможет войти как {name}; приглашение действует один раз.",
  "policy.lockHours": "Блокировать после отсутствия связи (часов, 0 — никогда)",
  "policy.wipeHours": "Стирать после отсутствия связи (часов, 0 — никогда)",
  "policy.remoteSecret": "Для запуска приложения нужен секрет с сервера (украденный диск сам по себе бесполезен)",
  "policy.maxDisappearing": "Наибольший срок исчезающих сообщений (часов, 0 — без ограничения)",
  "policy.presence": "Показывать статус «в сети» и набор текста",
  "policy.save": "Сохранить политику",
  "policy.saved": "Политика сохранена.",
  "audit.empty": "Журнал пуст.",
  "audit.signedBy": "подпись: {signer}",
  "audit.signer.root": "корневой ключ организации",
  "audit.signer.invite_key": "приглашение",
  "audit.kind.org-created": "Создана организация «{detail}»",
  "audit.kind.admin-added": "{user} назначен администратором",
  "audit.kind.admin-removed": "{user} больше не администратор",
  "audit.kind.user-added": "{user} добавлен в список сотрудников",
  "audit.kind.user-updated": "Обновлены данные сотрудника {user}",
  "audit.kind.invite-issued": "Выдано приглашение для {user}",
  "audit.kind.device-added": "Добавлено устройство {device} пользователя {user}",
  "audit.kind.device-revoked": "Отозвано устройство {device} пользователя {user} ({detail})",
  "audit.kind.user-dismissed": "{user} уволен",
  "audit.kind.wipe-ordered": "Отдан приказ стереть устройство {device} пользователя {user}",
  "audit.kind.wipe-done":
    "Устройство {device} пользователя {user} стёрло себя — подтверждение подписано устройством и проверено",
  "audit.kind.policy-set": "Изменена политика организации",
  "audit.kind.other": "Запись журнала «{kind}»",

  "settings.title": "Настройки",
  "settings.language": "Язык",
  "settings.theme": "Оформление",
  "theme.system": "Как в системе",
  "theme.light": "Светлое",
  "theme.dark": "Тёмное",
  "settings.account": "Учётная запись",
  "settings.userId": "Идентификатор",
  "settings.device": "Это устройство",
  "settings.org": "Организация",
  "settings.relay": "Сервер",
  "settings.myDevices": "Мои устройства",
  "settings.thisDevice": "это устройство",
  "settings.link": "Подключить другой компьютер",
  "settings.linkButton": "Получить код подключения",
  "settings.linkHint":
    "Вставьте этот код на другом компьютере туда, где Parley просит приглашение. Код действует один раз в течение часа. Никому его не показывайте: с ним можно читать ваши сообщения.",

  "gone.title": "Parley больше нет на этом компьютере",
  "gone.wiped":
    "Администратор стёр данные на этом устройстве. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.signed_out":
    "На этом устройстве завершён сеанс Parley. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.lost":
    "Это устройство числится утерянным, и администратор его отозвал. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.replaced":
    "Это устройство заменено более новым. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.dismissed":
    "Организация закрыла вашу учётную запись Parley. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.offline_wiped":
    "Устройство было без связи дольше, чем разрешает ваша организация, поэтому Parley стёр свои данные. На компьютере не осталось ничего от вашей учётной записи Parley.",
  "gone.startAgain": "Начать заново",

  "locked.title": "Не удалось открыть Parley",

  "err.relay_unreachable": "Сервер недоступен. Проверьте подключение к сети и повторите попытку.",
  "err.invite_invalid": "Приглашение недействительно или уже использовано. Попросите администратора выдать новое.",
  "err.not_admin": "Это могут делать только администраторы.",
  "err.not_a_poster": "В общем канале компании пишут только администраторы. Вы можете ставить реакции.",
  "err.directory_group": "Эта группа следует справочнику: её состав меняется вместе с отделом сотрудника.",
  "err.over_policy": "Политика вашей организации не позволяет хранить сообщения так долго.",
  "err.not_authorized": "У вас нет прав на это действие.",
  "err.account_exists": "На этом компьютере уже есть учётная запись Parley.",
  "err.invalid_pin": "TLS-отпечаток должен состоять из 64 шестнадцатеричных цифр.",
  "err.invalid_user_id": "Недопустимый идентификатор пользователя.",
  "err.no_such_user": "Такого пользователя нет.",
  "err.offline_locked":
    "Parley заблокирован: устройство слишком долго было без связи. Подключитесь к сети и повторите попытку.",
  "err.too_large": "Файл слишком большой.",
  "err.no_such_file": "Файл не найден.",
  "err.insecure_relay": "Адрес сервера должен начинаться с https.",
  "err.not_open": "Учётная запись Parley не открыта.",
  "err.unknown": "Что-то пошло не так.",
};

export const dictionaries: Record<Lang, Dict> = { en, ru };

export type Params = Record<string, string | number>;

/** The plural category of `n` in `lang`. */
export function pluralCategory(lang: Lang, n: number): "one" | "few" | "many" | "other" {
  const abs = Math.abs(n);
  if (!Number.isInteger(abs)) return "other";
  if (lang === "ru") {
    const d10 = abs % 10;
    const d100 = abs % 100;
    if (d10 === 1 && d100 !== 11) return "one";
    if (d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14)) return "few";
    return "many";
  }
  return abs === 1 ? "one" : "other";
}

function interpolate(s: string, params?: Params): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

export type T = (key: Key, params?: Params) => string;

/** A translator for `lang`. A plural message takes its form from `params.count`. */
export function makeT(lang: Lang): T {
  const dict = dictionaries[lang];
  return (key, params) => {
    const msg = dict[key] ?? en[key];
    if (typeof msg === "string") return interpolate(msg, params);
    const count = Number(params?.count ?? 0);
    const form = msg[pluralCategory(lang, count)] ?? msg.other;
    return interpolate(form, params);
  };
}

export function hasKey(key: string): key is Key {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** The language the system asks for, English unless it is Russian. */
export function systemLang(): Lang {
  const l = typeof navigator !== "undefined" ? navigator.language : "en";
  return l.toLowerCase().startsWith("ru") ? "ru" : "en";
}

const LANG_KEY = "parley.lang";

export function savedLang(): Lang {
  try {
    const v = localStorage.getItem(LANG_KEY);
    if (v === "en" || v === "ru") return v;
  } catch {
    /* storage unavailable */
  }
  return systemLang();
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    /* storage unavailable */
  }
}

/** A command error (or anything thrown) in words: translated by its code when we can. */
export function errorText(t: T, e: unknown): string {
  if (e && typeof e === "object" && "code" in e) {
    const code = String((e as { code: unknown }).code);
    const key = `err.${code}`;
    if (hasKey(key)) return t(key);
    if ("message" in e && typeof (e as { message: unknown }).message === "string") {
      return (e as { message: string }).message;
    }
  }
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  return t("err.unknown");
}
