// The PWA is a client-only SPA. Nothing is prerendered: adapter-static writes one empty
// shell, `build/index.html` (the `fallback` in svelte.config.js), and the relay serves it
// for every app path, so /listen/<stream_id> works without a server renderer. Prerendering
// `/` as well would only be overwritten by that same fallback file.
export const ssr = false;
export const prerender = false;
