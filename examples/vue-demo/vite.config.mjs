// Vite for the demo: no SFC plugin. The page's components are `defineComponent` objects with
// string templates, compiled in the browser by Vue's full build (vue.esm-bundler.js, which
// includes the template compiler). `vue` is aliased to that file for every importer, the kit's
// composable included, so the page and the kit share one Vue (one reactivity system).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
// The kit is a linked package (file:../../clients/typescript): Vite serves its TypeScript
// sources from there, outside this folder, so the dev server must be allowed to read them.
const kit = fileURLToPath(new URL('../../clients/typescript/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^vue$/,
        replacement: fileURLToPath(new URL('./node_modules/vue/dist/vue.esm-bundler.js', import.meta.url)),
      },
    ],
  },
  define: {
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  // http://localhost:5173 is in the local API's default ALLOWED_ORIGINS.
  server: { host: 'localhost', port: 5173, strictPort: true, fs: { allow: [here, kit] } },
  preview: { host: 'localhost', port: 5173, strictPort: true },
  build: { chunkSizeWarningLimit: 1024 },
});
