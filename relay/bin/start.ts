/**
 * `npm start`: builds the PWA if the build is missing or older than its sources, then
 * starts the relay (which serves the build at `/`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const buildIndex = join(root, 'build', 'index.html');
const sources = ['app', 'static', 'protocol', 'worklets', 'svelte.config.js', 'vite.config.ts', 'package.json'];

/** Newest modification time of the files the app is built from (tests do not count). */
function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

const builtAt = existsSync(buildIndex) ? statSync(buildIndex).mtimeMs : 0;
const sourcesAt = Math.max(...sources.map((s) => newestMtime(join(root, s))));
if (builtAt < sourcesAt) {
  console.log(builtAt === 0 ? 'Building the app (first start)...' : 'Sources changed since the last build: rebuilding the app...');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('The app build failed; see above.');
    process.exit(r.status ?? 1);
  }
}

await import('./relay.ts');
