import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { defineConfig, type ProxyOptions } from 'vite';

// `vite dev` (and `vite preview`, which reuses server.proxy) forwards relay paths to a
// running relay, so the app sees the same origin layout as when the relay serves build/.
const relayUrl = process.env.TAPWIRE_RELAY_URL ?? 'http://127.0.0.1:8080';

const toRelay: ProxyOptions = { target: relayUrl };

/**
 * Cross-origin isolation, as the relay sends it: the capture worklet hands audio to the
 * encoder worker through a SharedArrayBuffer ring, which needs `crossOriginIsolated`.
 */
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Paths the relay answers live: the service worker must never cache or fall back on them. */
const relayPaths = [/^\/api\//, /^\/ws\//, /^\/measurements/, /^\/metrics/, /^\/healthz/];

export default defineConfig({
  plugins: [
    sveltekit(),
    SvelteKitPWA({
      // The shell (app/routes/+layout.svelte) registers the worker with `registerSW` from
      // `virtual:pwa-register`; nothing is injected into the HTML.
      injectRegister: false,
      // Absolute, not the build's relative default: from /listen/<id> a relative `./sw.js`
      // would name /listen/sw.js, which is the app shell, and registration would fail.
      base: '/',
      scope: '/',
      registerType: 'autoUpdate',
      strategies: 'generateSW',
      kit: { adapterFallback: 'index.html', spa: { fallbackMapping: '/' } },
      manifest: {
        name: 'Tapwire',
        short_name: 'Tapwire',
        description: 'Capture, meter, optimize and listen to live audio through a thin relay.',
        id: '/',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#0f1419',
        theme_color: '#0284c7',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // The app shell and its assets only: audio, API answers and sockets are always live.
        globPatterns: ['client/**/*.{js,css,html,svg,png,webmanifest,wasm}'],
        // The app is a single-page app (adapter-static's fallback page): it prerenders
        // nothing, so .svelte-kit/output/prerendered/ never exists. Without a
        // modifyURLPrefix of our own, @vite-pwa/sveltekit appends the glob
        // `prerendered/**/*.{html,json}`, which then matches no file and makes Workbox warn
        // on every build. With one, it keeps the patterns above as they are; this one maps
        // `client/x` to `x`, the URL the relay serves it at (as the plugin's own transform does).
        modifyURLPrefix: { 'client/': '' },
        // opus-recorder's encoder (wasm inlined) is about 400 KB.
        maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
        navigateFallback: '/',
        navigateFallbackDenylist: relayPaths,
        runtimeCaching: [],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
      devOptions: { enabled: false },
    }),
  ],
  ssr: {
    // SvelteKit 2 imports `parse`/`serialize` from cookie@0.6 (nested under @sveltejs/kit),
    // but fastify hoists cookie@2 (no such exports) to node_modules/. The build's prerender
    // and fallback step loads .svelte-kit/output/server, which would resolve the hoisted copy
    // and fail; bundling cookie resolves it from kit's own node_modules instead.
    noExternal: ['cookie'],
  },
  worker: {
    // The encoder worker is a module worker (it imports comlink and the Ogg reader).
    format: 'es',
  },
  build: {
    rolldownOptions: {
      // Rolldown warns when plugin callbacks take over ~1 s; nearly all of that is
      // SvelteKit's writeBundle rendering the fallback shell, which we cannot shorten.
      checks: { bundlerTimings: false },
    },
  },
  server: {
    headers: isolationHeaders,
    proxy: {
      '/api': toRelay,
      '/ws': { ...toRelay, ws: true },
      '/healthz': toRelay,
      '/measurements': toRelay,
      '/metrics': toRelay,
    },
  },
  preview: { headers: isolationHeaders },
});
