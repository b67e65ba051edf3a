// Parley's own tiny i18n: two dictionaries with the same keys (`locales/en.ts` and
// `locales/ru.ts`; TypeScript enforces that `ru` has every key of `en` and no other), `{name}`
// interpolation and plural forms.

import { en } from "./locales/en";
import { ru } from "./locales/ru";

export type Lang = "en" | "ru";
export const LANGS: Lang[] = ["en", "ru"];

/** Plural forms: English uses `one`/`other`; Russian `one`/`few`/`many`. */
export type Plural = { one: string; few?: string; many?: string; other: string };
export type Msg = string | Plural;

export type Key = keyof typeof en;
export type Dict = { [K in Key]: Msg };

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
