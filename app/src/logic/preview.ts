import type { GroupEvent, Item } from "../bindings";
import type { T } from "../i18n";

/** One line for a message: in the conversation list and in notifications. */
export function previewText(item: Item | null, t: T): string {
  if (!item) return t("preview.none");
  const b = item.body;
  let s: string;
  switch (b.kind) {
    case "text":
      s = b.text.replace(/\s+/g, " ");
      break;
    case "file":
      s = t("preview.file", { name: b.name });
      break;
    case "deleted":
      return t("preview.deleted");
    case "reaction":
      s = t("preview.reaction", { emoji: b.emoji });
      break;
    case "group":
      return t("preview.group");
    case "timer":
      return t("preview.timer");
    case "task":
      s = t("preview.task", { title: b.title ?? t("task.untitled") });
      break;
  }
  return item.outgoing ? t("preview.you", { text: s }) : s;
}

/** A group change in words. */
export function groupChangeText(
  change: GroupEvent,
  actor: string,
  nameOf: (u: string) => string,
  t: T,
): string {
  switch (change.kind) {
    case "created":
      return t("groupEv.created", { actor, name: change.name });
    case "renamed":
      return t("groupEv.renamed", { actor, name: change.name });
    case "announcement":
      return t(change.on ? "groupEv.announceOn" : "groupEv.announceOff", { actor });
    case "added":
    case "removed":
    case "promoted":
    case "demoted":
      return t(`groupEv.${change.kind}`, { actor, members: change.members.map(nameOf).join(", ") });
  }
}
