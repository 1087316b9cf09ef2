import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The bundle is committed into the Python package, so `pip install` serves it without Node.
export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    outDir: '../src/assay/web/static',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
});
