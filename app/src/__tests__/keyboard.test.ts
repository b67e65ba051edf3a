// The keyboard audit, over the UI's sources: every element a pointer can act on is a native
// control (reachable with Tab, worked with Enter or Space) or says how the keyboard does the
// same; every control has an accessible name. A new `onClick` on a bare `<div>` fails here.
/// <reference types="node" />
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const NATIVE = new Set(["button", "a", "input", "select", "textarea", "label", "summary", "option"]);

/** Pointer handlers on other elements, each with the keyboard path that does the same. */
const KEYBOARD_TWIN: Record<string, string> = {
  "components/Modal.tsx <div> onMouseDown": "a click on the backdrop closes; so does Escape",
  "screens/Composer.tsx <li> onMouseDown": "a mention is picked with the arrows and Enter or Tab in the composer",
};

function sources(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) {
      if (f !== "__tests__" && f !== "test") sources(p, out);
    } else if (p.endsWith(".tsx")) out.push(p);
  }
  return out;
}

type Findings = { pointerOnly: string[]; unnamed: string[] };

/** Audits one source file (`rel`, its path under `src/`), adding to `found`. */
function auditSource(rel: string, text: string, found: Findings): void {
  const src = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const visit = (n: ts.Node) => {
    if (ts.isJsxOpeningElement(n) || ts.isJsxSelfClosingElement(n)) {
      const tag = n.tagName.getText();
      const attrs = n.attributes.properties.filter(ts.isJsxAttribute).map((a) => a.name.getText());
      const line = src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
      for (const h of attrs.filter((a) => /^on(Click|MouseDown|MouseUp|DoubleClick|ContextMenu)$/.test(a))) {
        if (/^[a-z]/.test(tag) && !NATIVE.has(tag) && !KEYBOARD_TWIN[`${rel} <${tag}> ${h}`]) {
          found.pointerOnly.push(`${rel}:${line} <${tag}> ${h}`);
        }
      }
      if (tag === "button" || tag === "select" || tag === "textarea" || tag === "input") {
        const named = attrs.some((a) => a === "aria-label" || a === "aria-labelledby" || a === "title");
        let labelled = false;
        for (let p: ts.Node | undefined = n.parent, i = 0; p && i < 8; p = p.parent, i++) {
          if (ts.isJsxElement(p) && p.openingElement.tagName.getText() === "label") labelled = true;
        }
        const text = ts.isJsxOpeningElement(n) && n.parent.children.some((c) => !ts.isJsxText(c) || c.getText().trim() !== "");
        const hidden = attrs.includes("hidden") || /type="hidden"|type="file"/.test(n.getText());
        if (!named && !labelled && !text && !hidden) found.unnamed.push(`${rel}:${line} <${tag}>`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
}

function audit(): Findings {
  const root = join(__dirname, "..");
  const found: Findings = { pointerOnly: [], unnamed: [] };
  for (const file of sources(root)) auditSource(file.slice(root.length + 1), readFileSync(file, "utf8"), found);
  return found;
}

describe("keyboard audit", () => {
  it("every pointer action has a keyboard path, and every control a name", () => {
    const { pointerOnly, unnamed } = audit();
    expect(pointerOnly).toEqual([]);
    expect(unnamed).toEqual([]);
  });

  it("catches a click handler on a bare element and a control without a name", () => {
    const found: Findings = { pointerOnly: [], unnamed: [] };
    auditSource("x.tsx", "<div><div onClick={go}>x</div><button onClick={go} /><button>Ok</button></div>", found);
    expect(found).toEqual({ pointerOnly: ["x.tsx:1 <div> onClick"], unnamed: ["x.tsx:1 <button>"] });
  });
});
