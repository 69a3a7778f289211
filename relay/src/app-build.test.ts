/**
 * The app's production build (`npm run build`, vite build): clean, with not one warning in
 * its output, and a service worker that precaches the whole app shell (every script and
 * stylesheet of the build, the entry page, the manifest and the icons), so that the
 * installed app opens offline. It rebuilds build/ in place, so it runs alone (vitest.config.ts).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appBuildState, BUILD_DIR, ROOT } from './app-build.ts';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('npm run build', () => {
  it('builds the app without a warning, and its service worker precaches the whole shell', async () => {
    // As a shell runs it: vitest's NODE_ENV=test would make Workbox build its development worker.
    const { NODE_ENV: _test, ...env } = process.env;
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], { cwd: ROOT, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.once('exit', (c) => resolve({ code: c, out: text }));
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/precache\s+\d+ entries/); // the service worker was generated
    expect(out.split('\n').filter((l) => /warn/i.test(l)), out).toEqual([]);
    expect(appBuildState()).toBe('fresh');

    const sw = readFileSync(join(BUILD_DIR, 'sw.js'), 'utf8');
    const precached = new Set([...sw.matchAll(/"?url"?:\s*"([^"]+)"/g)].map((m) => m[1]));
    const shell = files(join(BUILD_DIR, '_app', 'immutable'))
      .filter((f) => /\.(js|css)$/.test(f))
      .map((f) => relative(BUILD_DIR, f));
    expect(shell.length).toBeGreaterThan(10);
    for (const f of [...shell, '/', 'manifest.webmanifest', 'favicon.svg', 'icons/icon-192.png', 'icons/icon-512.png']) expect(precached, f).toContain(f);
    // Nothing the relay answers live, and nothing but the app's own files.
    for (const url of precached) expect(url).not.toMatch(/^\/?(api|ws|measurements|metrics|healthz)\b|^(client|prerendered|server)\//);
  }, 180_000);
});
