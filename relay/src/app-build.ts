/**
 * Builds the PWA (`vite build` into build/) when the build is missing or older than its
 * sources: `npm start` and the browser tests both call this, so neither serves a stale app.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './layout.ts';

export const ROOT = PROJECT_ROOT;
export const BUILD_DIR = join(ROOT, 'build');
const SOURCES = ['app', 'static', 'protocol', 'worklets', 'svelte.config.js', 'vite.config.ts', 'package.json'];

/** Newest modification time of the files the app is built from (tests do not count). */
function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

/** 'missing', 'stale' or 'fresh'. */
export function appBuildState(): 'missing' | 'stale' | 'fresh' {
  const index = join(BUILD_DIR, 'index.html');
  if (!existsSync(index)) return 'missing';
  const builtAt = statSync(index).mtimeMs;
  const sourcesAt = Math.max(...SOURCES.map((s) => newestMtime(join(ROOT, s))));
  return builtAt < sourcesAt ? 'stale' : 'fresh';
}

/** Runs `vite build` if needed; throws when the build fails. Returns whether it built. */
export function ensureAppBuilt(log: (line: string) => void = console.log): boolean {
  const state = appBuildState();
  if (state === 'fresh') return false;
  log(state === 'missing' ? 'Building the app (first start)...' : 'Sources changed since the last build: rebuilding the app...');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`the app build failed (vite build exited with ${r.status})`);
  return true;
}
