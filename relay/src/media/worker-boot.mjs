// Loads a TypeScript worker entry: Node 20 does not carry the parent's module loader into
// worker threads, so the worker registers it before importing its entry.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
