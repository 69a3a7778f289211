/**
 * The README's first command in miniature: `npm start` (`node --import tsx relay/bin/start.ts`)
 * as its own process, on a free port and a temporary data dir. It builds the app when the
 * build is missing or stale (about 20 s), then serves the app, the API and health on one
 * origin, and stops cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from './store/schema.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 120_000;

let child: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let dataDir: string;
let base: string;
let output = '';
let adminToken = '';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tapwire-start-'));
  child = spawn(process.execPath, ['--import', 'tsx', 'relay/bin/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Tapwire is running" line within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS - 2000);
    const onData = (): void => {
      const m = /Tapwire is running: (http:\/\/127\.0\.0\.1:(\d+))\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`start.ts exited (code ${code}, signal ${signal}) before it was running:\n${output}`));
    });
  });
}, START_TIMEOUT_MS);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('prints its URL on a real port', () => {
    const port = Number(new URL(base).port);
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });

  it('GET /healthz is 200 JSON with status "ok"', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', version: '0.1.0', live_stations: 0 });
    expect(body.media_workers).toBeGreaterThanOrEqual(1);
  });

  it('GET / serves the built app', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('Tapwire');
    expect(html).toMatch(/<!doctype html>/i);
    expect(existsSync(join(ROOT, 'build', 'index.html'))).toBe(true);
  });

  it('GET /capture is the app shell (client-side route)', async () => {
    const [shell, capture] = await Promise.all([fetch(`${base}/`), fetch(`${base}/capture`)]);
    expect(capture.status).toBe(200);
    expect(capture.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await capture.text();
    expect(html).toContain('Tapwire');
    expect(html).toBe(await shell.text());
  });

  it('writes an admin token file (mode 0600) and prints a sign-in link with it', () => {
    const file = join(dataDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    adminToken = readFileSync(file, 'utf8').trim();
    expect(adminToken).toMatch(/^tw_[A-Za-z0-9_-]{43}$/);
    expect(output).toContain(`${base}/?token=${adminToken}`);
  });

  it('GET /api/... without a token is a 401 in the API error shape', async () => {
    const res = await fetch(`${base}/api/optimizer/knobs`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('GET /api/does-not-exist is a 404 in the API error shape', async () => {
    const res = await fetch(`${base}/api/does-not-exist`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ success: false, error: { code: 'not_found', message: 'no route GET /api/does-not-exist' } });
  });

  it('GET /api/optimizer/knobs lists the 13 knobs', async () => {
    const res = await fetch(`${base}/api/optimizer/knobs`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { success: boolean; knobs: { name: string; type: string }[] };
    expect(body.success).toBe(true);
    expect(body.knobs).toHaveLength(13);
    expect(body.knobs[0]).toMatchObject({ name: 'pcm.input_gain_db', type: 'number', unit: 'dB', min: -40, max: 40, default: 0 });
    expect(new Set(body.knobs.map((k) => k.name)).size).toBe(13);
  });

  it('keeps its data in TAPWIRE_DATA_DIR', () => {
    expect(statSync(join(dataDir, 'tapwire.sqlite')).isFile()).toBe(true);
    expect(statSync(join(dataDir, 'segments')).isDirectory()).toBe(true);
  });

  it('exits with code 0 on SIGTERM, leaving a readable store', async () => {
    expect(child.kill('SIGTERM')).toBe(true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no exit within 20 s of SIGTERM:\n${output}`)), 20_000);
    });
    try {
      expect(await Promise.race([exited, timeout])).toEqual({ code: 0, signal: null });
    } finally {
      clearTimeout(timer);
    }
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    const db = new Database(join(dataDir, 'tapwire.sqlite'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(db.prepare('SELECT COUNT(*) AS n FROM traces').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});
