/**
 * Crash and shutdown, on a real relay process: SIGTERM finalizes the bucket in progress;
 * after `kill -9`, every bucket that was complete before the kill is intact on restart.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, it } from 'vitest';
import { measureRmsDbfs, sine } from './audio/signals.ts';
import { readWav } from './audio/wav.ts';
import { encodeAudio, SimulatedStation } from './sim/simulator.ts';
import { sleep } from './testing/harness.ts';
import { startRelayProcess } from './testing/relay-process.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts `relay/bin/relay.ts` as its own process; resolves with its URL. */
async function spawnRelay(dataDir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const relay = startRelayProcess({
    env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_MEDIA_WORKERS: '1' },
    startTimeoutMs: 20_000,
  });
  children.push(relay.child);
  return { child: relay.child, url: await relay.ready, exited: relay.exited };
}

interface Row {
  bucket_ts: number;
  samples: number;
  pre_path: string | null;
  post_path: string | null;
  metrics: string;
}

function rows(dataDir: string): Row[] {
  const db = new Database(join(dataDir, 'tapwire.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT bucket_ts, samples, pre_path, post_path, metrics FROM buckets ORDER BY bucket_ts').all() as Row[];
  } finally {
    db.close();
  }
}

async function streamUntil(url: string, stopAtMs: number): Promise<SimulatedStation> {
  const audio = encodeAudio(sine(1000, -20, 2, 48000), 48000, 'pcm16');
  const st = new SimulatedStation({ url: `${url.replace('http', 'ws')}/ws/ingest`, audio, durationS: 120 });
  await st.connect();
  while (Date.now() < stopAtMs) {
    st.pump(performance.now());
    await sleep(5);
  }
  return st;
}

// The two cases use their own process and data dir each, and mostly wait on the wall clock:
// they run side by side.
describe.concurrent('durability', () => {
  it('after kill -9, every bucket complete before the kill is intact on restart', async ({ expect }) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-kill-'));
    dirs.push(dataDir);
    const first = await spawnRelay(dataDir);
    // Kill 2.5 s into a bucket, at least two whole buckets after the first frame.
    const start = Date.now();
    const killAt = Math.ceil((start + 11_000) / 5000) * 5000 + 2500;
    const st = await streamUntil(first.url, killAt);
    first.child.kill('SIGKILL');
    await first.exited;
    st.terminate();

    // Buckets complete (end + 1 s grace) a comfortable 500 ms before the kill must all be there.
    const firstBucket = Math.floor(start / 5000) * 5000;
    const mustHave: number[] = [];
    for (let b = firstBucket; b + 5000 + 1000 + 500 <= killAt; b += 5000) mustHave.push(b);
    expect(mustHave.length).toBeGreaterThanOrEqual(2);

    const second = await spawnRelay(dataDir);
    const stored = rows(dataDir);
    for (const b of mustHave) {
      const row = stored.find((r) => r.bucket_ts === b);
      expect(row, `bucket ${new Date(b).toISOString()}`).toBeDefined();
      for (const p of [row!.pre_path, row!.post_path]) {
        const wav = readWav(readFileSync(join(dataDir, 'segments', p!)));
        expect(wav.frames).toBe(row!.samples);
      }
      if (b > firstBucket) {
        const pre = readWav(readFileSync(join(dataDir, 'segments', row!.pre_path!)));
        expect(measureRmsDbfs(pre.samples)).toBeCloseTo(-23.01, 1);
      }
    }
    // No half-written files under real names; temporaries are cleaned up on start.
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(join(dataDir, 'segments')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The station of the killed process is marked ended.
    const db = new Database(join(dataDir, 'tapwire.sqlite'), { readonly: true });
    const station = db.prepare('SELECT ended_at, end_reason FROM stations').get() as { ended_at: number; end_reason: string };
    db.close();
    expect(station.end_reason).toBe('relay_restart');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('SIGTERM finalizes the bucket in progress and exits 0', async ({ expect }) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-term-'));
    dirs.push(dataDir);
    const relay = await spawnRelay(dataDir);
    const stopAt = Date.now() + 3000;
    const st = await streamUntil(relay.url, stopAt);
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    const stored = rows(dataDir);
    const frames = stored.reduce((n, r) => n + (JSON.parse(r.metrics) as { PRE: { 'pcm.rms_dbfs': { count: number } } }).PRE['pcm.rms_dbfs'].count, 0);
    // Every frame the relay accepted is in a stored bucket, including the bucket in progress.
    expect(frames).toBe(st.framesSent);
    expect(stored.at(-1)!.bucket_ts).toBe(Math.floor(stopAt / 5000) * 5000);
    for (const r of stored) expect(existsSync(join(dataDir, 'segments', r.pre_path!))).toBe(true);
  });
});
