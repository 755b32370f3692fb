// Vite for the demo: no SFC plugin. The page's components are `defineComponent` objects with
// string templates, compiled in the browser by Vue's full build (vue.esm-bundler.js, which
// includes the template compiler). `vue` is aliased to that file for every importer, the kit's
// composable included, so the page and the kit share one Vue (one reactivity system).
//
// The kit is installed as a package would be: `.npmrc` has `install-links=true`, so npm copies
// clients/typescript (its built dist/, see its README) into node_modules instead of linking it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// `DEMO_PORT=5174 make demo`: the local API's default ALLOWED_ORIGINS has only
// http://localhost:5173, so another port needs `ALLOWED_ORIGINS=http://localhost:5174 make run`.
// strictPort: Vite fails rather than moving to a port the API does not allow.
const port = Number(process.env.DEMO_PORT || 5173);

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
  server: { host: 'localhost', port, strictPort: true },
  preview: { host: 'localhost', port, strictPort: true },
  build: { chunkSizeWarningLimit: 1024 },
});
