import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { resetTauri } from "./tauri";

vi.mock("@tauri-apps/api/core", async () => {
  const m = await import("./tauri");
  return { invoke: m.invoke, Channel: m.Channel };
});
vi.mock("@tauri-apps/api/event", async () => {
  const m = await import("./tauri");
  return { listen: m.listen };
});
vi.mock("@tauri-apps/plugin-dialog", async () => {
  const m = await import("./tauri");
  return { open: m.open };
});
vi.mock("@tauri-apps/plugin-notification", async () => {
  const m = await import("./tauri");
  return {
    isPermissionGranted: m.isPermissionGranted,
    requestPermission: m.requestPermission,
    sendNotification: m.sendNotification,
  };
});
vi.mock("@tauri-apps/api/window", async () => {
  const m = await import("./tauri");
  return { getCurrentWindow: () => ({ setTitle: m.setTitle, setBadgeCount: m.setBadgeCount }) };
});

// jsdom lays nothing out: give the virtualised list a viewport and rows a height.
Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 800 });
Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 600 });
Object.defineProperty(HTMLElement.prototype, "offsetHeight", { configurable: true, get: () => 40 });
Object.defineProperty(HTMLElement.prototype, "offsetWidth", { configurable: true, get: () => 600 });
if (!Element.prototype.scrollTo) {
  Element.prototype.scrollTo = function () {} as typeof Element.prototype.scrollTo;
}

beforeEach(() => {
  resetTauri();
  localStorage.clear();
  localStorage.setItem("parley.lang", "en");
  document.documentElement.removeAttribute("data-theme");
});

afterEach(() => {
  cleanup();
});
