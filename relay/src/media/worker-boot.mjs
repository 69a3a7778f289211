// Boots a media worker thread.
import { workerData } from 'node:worker_threads';

// @evan/opus's native addon crashes the process (SIGSEGV) when a worker thread that loaded
// it exits; its WebAssembly build decodes as fast once warm (bench/opus-decoders.ts) and
// is safe in workers. Each worker has its own copy of process.env, so this stays local.
process.env.OPUS_FORCE_WASM = '1';

// Node 20 does not carry the parent's module loader into worker threads, so a TypeScript
// entry registers tsx before it is imported.
if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
