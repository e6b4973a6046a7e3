// Builds the React renderer (src/renderer) into dist/renderer: the one bundle the station serves at `/` and the
// Electron window loads.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'src/renderer',
  base: './',
  plugins: [react()],
  build: { outDir: '../../dist/renderer', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
