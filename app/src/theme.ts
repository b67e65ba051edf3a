// Light, dark, or the system's choice (prefers-color-scheme): a data-theme attribute on <html>.

export type Theme = "system" | "light" | "dark";
const KEY = "parley.theme";

export function savedTheme(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    if (v === "light" || v === "dark" || v === "system") return v;
  } catch {
    /* storage unavailable */
  }
  return "system";
}

let chosen: Theme = "system";
let following = false;

/** The system's preference, where the WebView reports one. */
function systemDark(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia("(prefers-color-scheme: dark)").matches;
}

/** Sets `data-theme` to `light` or `dark`; with "system", follows the system's changes too. */
export function applyTheme(theme: Theme): void {
  chosen = theme;
  const dark = theme === "dark" || (theme === "system" && systemDark());
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
  if (!following && typeof window.matchMedia === "function") {
    following = true;
    window
      .matchMedia("(prefers-color-scheme: dark)")
      .addEventListener?.("change", () => {
        if (chosen === "system") applyTheme("system");
      });
  }
}

export function setTheme(theme: Theme): void {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    /* storage unavailable */
  }
  applyTheme(theme);
}
