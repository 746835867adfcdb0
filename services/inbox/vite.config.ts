import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The inbox is static files the API serves at `/` (one origin: no CORS, and the API's CSP allows
 * only 'self' scripts, so the build must not inline any). In dev, the Vite server proxies the API's
 * paths to a running API: `INBOX_API_URL=http://127.0.0.1:3000 npx vite services/inbox`.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets become data: URLs in CSS/JS, which the CSP allows for images only; keep
    // every script a file of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      // Read here, not through a config schema: this is the dev server's own setting, never the app's.
      '/v1': { target: process.env.INBOX_API_URL ?? 'http://127.0.0.1:3000', changeOrigin: true },
    },
  },
});
