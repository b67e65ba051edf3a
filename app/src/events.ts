import { createContext, useContext, useEffect, useRef } from "react";
import type { UiEvent } from "./bindings";

export type Bus = { subscribe: (h: (e: UiEvent) => void) => () => void; publish: (e: UiEvent) => void };

export function createBus(): Bus {
  const subs = new Set<(e: UiEvent) => void>();
  return {
    subscribe(h) {
      subs.add(h);
      return () => subs.delete(h);
    },
    publish(e) {
      for (const h of Array.from(subs)) h(e);
    },
  };
}

export const BusContext = createContext<Bus>(createBus());

/** Calls `handler` (the latest one) for every engine event. */
export function useUiEvent(handler: (e: UiEvent) => void): void {
  const bus = useContext(BusContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => bus.subscribe((e) => ref.current(e)), [bus]);
}
