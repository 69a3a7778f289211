/**
 * The flood (issue: "one client can exhaust the relay"), bounded, against a relay process:
 * while a well-behaved station streams Opus from 127.0.0.1, another client (127.0.0.2)
 * opens 400 ingest sockets that each send `start` and one 3-byte packet and hold on, and
 * 200 that send nothing. The flood is capped with clear errors, the well-behaved station
 * loses no frame and none of its audio is evicted (retention shares the segment budget per
 * client), and the relay's memory comes back after the flood.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechLike } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { flood, type FloodSocket } from '../testing/flood.ts';
import { alignToBucket, sleep, waitFor } from '../testing/harness.ts';
import { startRelayProcess, type RelayProcess } from '../testing/relay-process.ts';

const RATE = 48000;
const SEGMENT_BUDGET_MB = 16;
const STREAM_S = 30;

let relay: RelayProcess;
let dataDir = '';
let base = '';

const rssMb = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1]) / 1024;

interface Result {
  wellBehaved: { traceId: string; stationKey: string; framesSent: number };
  sockets: FloodSocket[];
  rssBefore: number;
  rssDuring: number;
  rssAfter: number;
  metrics: string;
}
let result: Result;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tapwire-flood-'));
  relay = startRelayProcess({
    env: {
      ...process.env,
      TAPWIRE_PORT: '0',
      TAPWIRE_DATA_DIR: dataDir,
      TAPWIRE_LOG_LEVEL: 'warn',
      TAPWIRE_SEGMENT_MAX_MB: String(SEGMENT_BUDGET_MB),
      TAPWIRE_START_TIMEOUT_MS: '2000',
    },
  });
  base = await relay.ready;
  const ingest = `${base.replace('http', 'ws')}/ws/ingest`;
  const good = new SimulatedStation({ url: ingest, audio: encodeAudio(speechLike(-20, 10, RATE, 3), RATE, 'opus'), durationS: STREAM_S, label: 'well-behaved' });
  const started = await good.connect();
  const streaming = runStations([good]);

  await sleep(6000);
  // Four seconds into a bucket: each flood station's one packet then makes a 4 s segment
  // (silence up to the packet), about 48 MB in all, three times the segment budget.
  await alignToBucket(4000);
  const rssBefore = rssMb();
  const sockets = await flood({ url: ingest, stations: 400, idle: 200, localAddress: '127.0.0.2', ratePerS: 500 });
  await waitFor(() => (sockets.every((s) => s.kind === 'station' || s.closeCode !== null) ? true : undefined), 10_000, 'the idle sockets to be closed or refused');
  const rssDuring = rssMb();
  await sleep(2000);
  for (const s of sockets) s.ws.terminate();
  await streaming;
  // The last bucket completes (end + grace), is written, and retention has run.
  await sleep(8000);
  const rssAfter = rssMb();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  result = { wellBehaved: { traceId: started.trace_id, stationKey: started.station_key, framesSent: good.framesSent }, sockets, rssBefore, rssDuring, rssAfter, metrics };
}, 120_000);

afterAll(async () => {
  relay?.child.kill('SIGTERM');
  await relay?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a flood from one client', () => {
  it('is capped: 64 stations for its address, 200 connections, idle sockets closed; every refusal says why', () => {
    const stations = result.sockets.filter((s) => s.kind === 'station');
    const idle = result.sockets.filter((s) => s.kind === 'idle');
    expect(stations).toHaveLength(400);
    expect(idle).toHaveLength(200);
    const accepted = stations.filter((s) => s.messages.some((m) => m.type === 'started'));
    const atStart = stations.filter((s) => s.closeCode === 1013);
    const atUpgrade = result.sockets.filter((s) => s.refusedStatus === 429);
    const timedOut = idle.filter((s) => s.closeCode === 4408);
    expect(accepted.length).toBe(64);
    // Each socket met exactly one limit: the station cap at `start` (1013), the per-address
    // connection cap at the upgrade (429), or the start timeout (4408).
    expect(accepted.length + atStart.length + atUpgrade.length + timedOut.length).toBe(600);
    for (const s of atStart) expect(s.messages).toEqual([{ type: 'error', code: 'too_many_stations', message: expect.stringMatching(/127\.0\.0\.2 has 64 live stations/) }]);
    for (const s of timedOut) expect(s.messages).toEqual([{ type: 'error', code: 'start_timeout', message: expect.any(String) }]);
    expect(atStart.length).toBeGreaterThan(0);
    expect(atUpgrade.length).toBeGreaterThan(0);
    expect(timedOut.length).toBeGreaterThan(0);
    const count = (limit: string): number => Number(new RegExp(`^tapwire_limit_rejections_total\\{limit="${limit}"\\} (\\d+)$`, 'm').exec(result.metrics)?.[1]);
    expect(count('stations_per_address')).toBe(atStart.length);
    expect(count('ingest_connections_per_address')).toBe(atUpgrade.length);
    expect(count('start_timeout')).toBe(timedOut.length);
  });

  it('costs the well-behaved station no frame', () => {
    const db = new Database(join(dataDir, 'tapwire.sqlite'), { readonly: true });
    try {
      const { traceId, stationKey, framesSent } = result.wellBehaved;
      const rows = db.prepare('SELECT metrics, ingest, pre_path FROM buckets WHERE trace_id = ? AND station_key = ? ORDER BY bucket_ts').all(traceId, stationKey) as { metrics: string; ingest: string; pre_path: string | null }[];
      expect(rows.length).toBeGreaterThanOrEqual(6);
      const frames = rows.reduce((n, r) => n + (JSON.parse(r.metrics) as { PRE: { 'pcm.rms_dbfs': { count: number } } }).PRE['pcm.rms_dbfs'].count, 0);
      expect(frames).toBe(framesSent);
      const last = JSON.parse(rows[rows.length - 1].ingest) as Record<string, number>;
      expect(last).toMatchObject({ frames_received: framesSent, frames_dropped: 0, frames_concealed: 0, late_frames: 0, resyncs: 0, frames_out_of_order: 0, decode_errors: 0 });
    } finally {
      db.close();
    }
  });

  it('evicts only the flood\'s audio when the segment budget runs out', () => {
    const db = new Database(join(dataDir, 'tapwire.sqlite'), { readonly: true });
    try {
      const { traceId } = result.wellBehaved;
      const mine = db.prepare('SELECT COUNT(*) AS n, SUM(pre_path IS NULL) AS evicted FROM buckets WHERE trace_id = ?').get(traceId) as { n: number; evicted: number };
      expect(mine.evicted).toBe(0);
      const flooded = db.prepare("SELECT COUNT(*) AS n, SUM(pre_path IS NULL) AS evicted FROM buckets WHERE client = 'address:127.0.0.2'").get() as { n: number; evicted: number };
      expect(flooded.n).toBe(64);
      expect(flooded.evicted).toBeGreaterThan(0);
      const { total } = db.prepare('SELECT SUM(segment_bytes) AS total FROM buckets').get() as { total: number };
      expect(total).toBeLessThanOrEqual(SEGMENT_BUDGET_MB * 1024 * 1024);
    } finally {
      db.close();
    }
  });

  it('gives its memory back: RSS within 20 % of its level before the flood', () => {
    console.log(`relay RSS: ${result.rssBefore.toFixed(1)} MB before the flood, ${result.rssDuring.toFixed(1)} MB during, ${result.rssAfter.toFixed(1)} MB after`);
    expect(result.rssAfter).toBeLessThanOrEqual(result.rssBefore * 1.2);
  });
});
