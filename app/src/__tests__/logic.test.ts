import { describe, expect, it } from "vitest";
import { dictionaries, makeT, pluralCategory } from "../i18n";
import { dayLabel, withDays } from "../logic/days";
import { humanSize, percent, unreadTotal, windowTitle } from "../logic/format";
import { foldReactions } from "../logic/reactions";
import { normalise } from "../logic/search";
import { item, summary, text } from "../test/fixtures";

describe("reaction folding", () => {
  const target = text("hello", { author: "bob", id: "t1" });
  const react = (author: string, emoji: string, remove = false, outgoing = false) =>
    item({ kind: "reaction", target: { author: "bob", id: "t1" }, emoji, remove }, { author, outgoing });

  it("counts each reacting author once per emoji and drops reaction rows", () => {
    const { rows, chips } = foldReactions([
      target,
      react("carol", "👍"),
      react("carol", "👍"),
      react("alice", "👍", false, true),
      react("dave", "❤️"),
    ]);
    expect(rows).toEqual([target]);
    expect(chips.get("bob/t1")).toEqual([
      { emoji: "👍", count: 2, mine: true },
      { emoji: "❤️", count: 1, mine: false },
    ]);
  });

  it("a remove takes one back, in timeline order", () => {
    const { chips } = foldReactions([
      target,
      react("alice", "👍", false, true),
      react("alice", "👍", true, true),
      react("carol", "😂"),
      react("carol", "😂", true),
      react("carol", "😂"),
    ]);
    expect(chips.get("bob/t1")).toEqual([{ emoji: "😂", count: 1, mine: false }]);
  });

  it("no chips when every reaction was removed", () => {
    const { chips } = foldReactions([target, react("carol", "👍"), react("carol", "👍", true)]);
    expect(chips.has("bob/t1")).toBe(false);
  });
});

describe("day grouping", () => {
  const now = new Date(2025, 4, 20, 15, 0).getTime();
  it("names today, yesterday, and other dates", () => {
    expect(dayLabel(new Date(2025, 4, 20, 0, 5).getTime(), now)).toEqual({ kind: "today" });
    expect(dayLabel(new Date(2025, 4, 19, 23, 59).getTime(), now)).toEqual({ kind: "yesterday" });
    const old = new Date(2025, 4, 18, 12, 0).getTime();
    expect(dayLabel(old, now)).toEqual({ kind: "date", ms: old });
  });
  it("puts a separator before each new day only", () => {
    const a = text("a", { stamp: new Date(2025, 4, 18, 9).getTime() });
    const b = text("b", { stamp: new Date(2025, 4, 18, 18).getTime() });
    const c = text("c", { stamp: new Date(2025, 4, 19, 8).getTime() });
    const rows = withDays([a, b, c]);
    expect(rows.map((r) => r.type)).toEqual(["day", "item", "item", "day", "item"]);
  });
});

describe("directory search", () => {
  it("lowercases Unicode and treats ё as е", () => {
    expect(normalise("Сёмина ЁЛКА")).toBe("семина елка");
  });
});

describe("Russian plurals", () => {
  it("chooses one, few and many", () => {
    const cases: [number, string][] = [
      [1, "one"], [2, "few"], [4, "few"], [5, "many"], [11, "many"], [12, "many"],
      [14, "many"], [21, "one"], [22, "few"], [25, "many"], [101, "one"], [111, "many"], [0, "many"],
    ];
    for (const [n, cat] of cases) expect(pluralCategory("ru", n)).toBe(cat);
  });
  it("formats counts", () => {
    const t = makeT("ru");
    expect(t("conv.members", { count: 1 })).toBe("1 участник");
    expect(t("conv.members", { count: 3 })).toBe("3 участника");
    expect(t("conv.members", { count: 11 })).toBe("11 участников");
    expect(t("conv.members", { count: 21 })).toBe("21 участник");
    expect(makeT("en")("conv.members", { count: 1 })).toBe("1 member");
    expect(makeT("en")("conv.members", { count: 2 })).toBe("2 members");
  });
  it("both dictionaries have the same keys", () => {
    expect(Object.keys(dictionaries.ru).sort()).toEqual(Object.keys(dictionaries.en).sort());
  });
});

describe("unread title and sizes", () => {
  it("shows the unread total", () => {
    const list = [summary("bob", "Bob", { unread: 2 }), summary("olga", "Olga", { unread: 1 }), summary("x", "X")];
    expect(unreadTotal(list)).toBe(3);
    expect(windowTitle(3)).toBe("(3) Parley");
    expect(windowTitle(0)).toBe("Parley");
  });
  it("formats sizes and percentages", () => {
    expect(humanSize(512)).toBe("512 B");
    expect(humanSize(1536)).toBe("1.5 KB");
    expect(humanSize(5 * 1024 * 1024)).toBe("5 MB");
    expect(percent(50, 200)).toBe(25);
    expect(percent(199, 200)).toBe(99);
    expect(percent(200, 200)).toBe(100);
  });
});

describe("merging the latest page", () => {
  it("keeps older pages and takes the new version of a message", async () => {
    const { mergeLatest } = await import("../logic/chat");
    const a = text("a", { id: "a", stamp: 1 });
    const b = text("b", { id: "b", stamp: 2 });
    const b2 = { ...b, edited: true, stamp: 3 };
    const c = text("c", { id: "c", stamp: 4 });
    expect(mergeLatest([a, b], [b2, c])).toEqual([a, b2, c]);
  });
});
