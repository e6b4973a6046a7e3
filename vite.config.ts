// Builds the React renderer (src/renderer) into dist/renderer: the one bundle the station serves at `/` and the
// Electron window loads. `@/` resolves to src/renderer, as in the integration guide's examples.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'src/renderer',
  base: './',
  plugins: [react()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src/renderer', import.meta.url)) } },
  build: { outDir: '../../dist/renderer', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
