// Builds the React renderer (src/renderer) into dist/renderer: the one bundle the station serves at `/` and the
// Electron window loads. `@/` resolves to src/renderer, as in the integration guide's examples.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const rendererRoot = fileURLToPath(new URL('./src/renderer', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/renderer', import.meta.url));

/** scripts/build.mjs passes the repository as `root` inline; the renderer's root is src/renderer whoever calls. */
const rendererRootPlugin: Plugin = {
  name: 'flash-station-renderer-root',
  config(config) {
    config.root = rendererRoot;
  },
};

export default defineConfig({
  root: rendererRoot,
  base: './',
  plugins: [rendererRootPlugin, react()],
  resolve: { alias: { '@': rendererRoot } },
  build: {
    outDir, emptyOutDir: true, sourcemap: 'hidden', target: 'es2022',
    // The station's page, and the fleet view's (`flash-station fleet`), which reuses the station's job cards and styles.
    rollupOptions: { input: { index: `${rendererRoot}/index.html`, fleet: `${rendererRoot}/fleet.html` } },
  },
  // `npx vite --config vite.config.ts` for UI work: the page on Vite's dev server, its socket and REST calls proxied to a
  // station on FLASH_STATION_DEV_URL (default http://127.0.0.1:3001, e.g. `flash-station serve --demo`).
  server: {
    proxy: {
      '/flash-progress': { target: process.env.FLASH_STATION_DEV_URL ?? 'http://127.0.0.1:3001', ws: true, changeOrigin: true },
      '/api': { target: process.env.FLASH_STATION_DEV_URL ?? 'http://127.0.0.1:3001', changeOrigin: true },
    },
  },
});
