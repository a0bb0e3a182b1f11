import { defineConfig } from 'vite';

// No React plugin: esbuild compiles the JSX (automatic runtime).
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  resolve: { dedupe: ['react', 'react-dom'] },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/v1': { target: process.env.ABLO_URL ?? 'http://127.0.0.1:7700', ws: true },
    },
  },
});
