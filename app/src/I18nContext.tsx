import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { makeT, saveLang, savedLang, type Lang, type T } from "./i18n";

type I18n = { lang: Lang; t: T; setLang: (l: Lang) => void };

const Ctx = createContext<I18n>({ lang: "en", t: makeT("en"), setLang: () => {} });

/** Holds the language; switching it re-renders everything in the new one. */
export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => initial ?? savedLang());
  const setLang = useCallback((l: Lang) => {
    saveLang(l);
    setLangState(l);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo(() => ({ lang, t: makeT(lang), setLang }), [lang, setLang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  return useContext(Ctx);
}
