import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/**
 * The PWA is a client-only SPA: the relay serves `build/` at the same origin and answers
 * any unknown path (e.g. /listen/<stream_id>) with `build/index.html`, the fallback shell.
 *
 * @type {import('@sveltejs/kit').Config}
 */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter({
      pages: 'build',
      assets: 'build',
      fallback: 'index.html',
      precompress: false,
      strict: true,
    }),
    files: {
      src: 'app',
      assets: 'static',
      lib: 'app/lib',
      routes: 'app/routes',
      params: 'app/params',
      appTemplate: 'app/app.html',
      errorTemplate: 'app/error.html',
      hooks: {
        client: 'app/hooks.client',
        server: 'app/hooks.server',
        universal: 'app/hooks',
      },
      serviceWorker: 'app/service-worker',
    },
    // The shared wire contract and DSP kernels live outside app/; one copy, imported here
    // and by the relay (ARCHITECTURE.md, "Shared code, one copy").
    alias: {
      $protocol: 'protocol',
      $worklets: 'worklets',
    },
  },
};

export default config;
