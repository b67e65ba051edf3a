// A stand-in for Tauri at test time: commands answered by handlers the test gives,
// events emitted by the test, dialogs and notifications recorded.
import { vi } from "vitest";
import type { UiEvent } from "../bindings";

export type Handler = (args: Record<string, unknown>) => unknown;

export const handlers: Record<string, Handler> = {};
const listeners = new Set<(e: { payload: UiEvent }) => void>();

export const invoke = vi.fn(async (cmd: string, args: Record<string, unknown> = {}) => {
  const h = handlers[cmd];
  if (!h) throw { code: "not_mocked", message: `no handler for ${cmd}` };
  return h(args);
});

export class Channel<T> {
  onmessage: (m: T) => void = () => {};
}

export const listen = vi.fn(async (_name: string, cb: (e: { payload: UiEvent }) => void) => {
  listeners.add(cb);
  return () => listeners.delete(cb);
});

/** Sends an engine event to the UI. */
export function emit(e: UiEvent): void {
  for (const l of Array.from(listeners)) l({ payload: e });
}

export const open = vi.fn(async (): Promise<string | null> => null);
export const isPermissionGranted = vi.fn(async () => true);
export const requestPermission = vi.fn(async () => "granted");
export const sendNotification = vi.fn();
export const setTitle = vi.fn(async () => {});
export const setBadgeCount = vi.fn(async (_count?: number) => {});

/** Sets the command handlers (others are forgotten). */
export function mockCommands(h: Record<string, Handler>): void {
  for (const k of Object.keys(handlers)) delete handlers[k];
  Object.assign(handlers, h);
}

export function resetTauri(): void {
  mockCommands({});
  listeners.clear();
  invoke.mockClear();
  listen.mockClear();
  open.mockReset();
  open.mockImplementation(async () => null);
  sendNotification.mockClear();
  setTitle.mockClear();
  setBadgeCount.mockClear();
}

/** The arguments of every call of `cmd`. */
export function callsOf(cmd: string): Record<string, unknown>[] {
  return invoke.mock.calls.filter((c) => c[0] === cmd).map((c) => (c[1] ?? {}) as Record<string, unknown>);
}
