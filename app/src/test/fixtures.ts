import type { ChatSummary, Item, ItemBody, Me, Person } from "../bindings";

export const me: Me = {
  user: "alice",
  display_name: "Alice Admin",
  device: 1,
  org_name: "Acme Corp",
  relay: "https://relay.acme.test",
  admin: true,
};

export function person(user: string, display_name: string, extra: Partial<Person> = {}): Person {
  return {
    user,
    display_name,
    email: `${user}@acme.test`,
    title: "",
    department: "",
    phone: "",
    admin: false,
    dismissed: false,
    poster: false,
    devices: [{ device: 1, added_at: Date.UTC(2025, 0, 10), revoked: null }],
    ...extra,
  };
}

export const people: Person[] = [
  person("alice", "Alice Admin", { admin: true, title: "CTO" }),
  person("bob", "Bob Smith", {
    title: "Senior Accountant",
    department: "Finance",
    devices: [
      { device: 1, added_at: Date.UTC(2025, 0, 10), revoked: "lost" },
      { device: 2, added_at: Date.UTC(2025, 1, 3), revoked: null },
    ],
  }),
  person("olga", "Ольга Сёмина", { title: "Главный бухгалтер", department: "Бухгалтерия" }),
  person("carol", "Carol Gone", { dismissed: true, devices: [{ device: 1, added_at: 1, revoked: "dismissed" }] }),
];

let n = 0;
export function item(body: ItemBody, extra: Partial<Item> = {}): Item {
  n++;
  const stamp = extra.stamp ?? Date.now() - 60_000 + n;
  return {
    author: "bob",
    outgoing: false,
    id: `id${n}`.padEnd(32, "0"),
    sent_at: stamp,
    stamp,
    status: "received",
    edited: false,
    body,
    ...extra,
  };
}

export const text = (t: string, extra: Partial<Item> = {}) => item({ kind: "text", text: t, reply_to: null }, extra);

export function summary(user: string, title: string, extra: Partial<ChatSummary> = {}): ChatSummary {
  return {
    chat: { kind: "user", user },
    title,
    members: [user],
    last: null,
    active_at: Date.now() - 1000,
    unread: 0,
    notify: { level: "all", muted_until: 0 },
    disappearing: { secs: 0, max_secs: 0 },
    read_only: false,
    ...extra,
  };
}

export const GROUP = "ab".repeat(32);

/** The engine's directory search for an empty query: everyone current (or former too), by name. */
export function everyone(args: Record<string, unknown>): string[] {
  return people
    .filter((p) => args.former || !p.dismissed)
    .sort((a, b) => a.display_name.localeCompare(b.display_name))
    .map((p) => p.user);
}
