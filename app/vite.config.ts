import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The UI of Parley's desktop app. Tauri serves `dist/` (tauri.conf.json, frontendDist);
// the CSP allows no inline scripts or styles, so everything is bundled into files.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    // Nothing inline: the CSP forbids data: scripts and inline styles.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
