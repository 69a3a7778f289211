import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig, type ProxyOptions } from 'vite';

// `vite dev` (and `vite preview`, which reuses server.proxy) forwards relay paths to a
// running relay, so the app sees the same origin layout as when the relay serves build/.
const relayUrl = process.env.TAPWIRE_RELAY_URL ?? 'http://127.0.0.1:8080';

const toRelay: ProxyOptions = { target: relayUrl };

export default defineConfig({
  plugins: [sveltekit()],
  ssr: {
    // SvelteKit 2 imports `parse`/`serialize` from cookie@0.6 (nested under @sveltejs/kit),
    // but fastify hoists cookie@2 (no such exports) to node_modules/. The build's prerender
    // and fallback step loads .svelte-kit/output/server, which would resolve the hoisted copy
    // and fail; bundling cookie resolves it from kit's own node_modules instead.
    noExternal: ['cookie'],
  },
  build: {
    rolldownOptions: {
      // Rolldown warns when plugin callbacks take over ~1 s; nearly all of that is
      // SvelteKit's writeBundle rendering the fallback shell, which we cannot shorten.
      checks: { bundlerTimings: false },
    },
  },
  server: {
    proxy: {
      '/api': toRelay,
      '/ws': { ...toRelay, ws: true },
      '/healthz': toRelay,
      '/measurements': toRelay,
      '/metrics': toRelay,
    },
  },
});
