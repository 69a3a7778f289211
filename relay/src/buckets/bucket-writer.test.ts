/**
 * The bucket writer on a real SQLite file and real segment files: a burst of live buckets
 * (every station finalizes at the same moment) is spread over the writer's window, the
 * first at once; a small burst is held at most the longest gap per write; a lone bucket
 * is not held back; `drain()` writes what is left without
 * spacing; every row and file arrives whatever the pace. A recorded bucket two parts share
 * is gated over both parts' loudness blocks, kept with each part's share.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { BUCKET_MS, METRIC_NAMES, type BucketMetrics, type TapMetrics } from '../../../protocol/metrics.ts';
import { newStreamId } from '../ids.ts';
import type { BucketRecord } from '../media/messages.ts';
import { SegmentStore } from '../store/segment-store.ts';
import { Store } from '../store/store.ts';
import { BucketWriter } from './bucket-writer.ts';

const RATE = 16000;
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);
const SPREAD_MS = 600;
const MAX_GAP_MS = 100;

let dir: string;
let store: Store;
let segments: SegmentStore;
/** When each record's row and files were written (ms since the test's burst), by station. */
let writtenAt: Map<string, number>;
let t0 = 0;
let writer: BucketWriter;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-writer-'));
  store = new Store(join(dir, 'tapwire.sqlite'));
  segments = new SegmentStore(join(dir, 'segments'), store, { maxAgeMs: 3600_000, maxBytes: 1e9 });
  await segments.init();
  store.insertTrace({ trace_id: 'tr', kind: 'live', started_at: T0, ended_at: null, call_id: null });
  writtenAt = new Map();
  writer = new BucketWriter(store, segments, { written: (r) => writtenAt.set(r.stationKey, performance.now() - t0), failed: (_r, err) => { throw err; } }, { spreadMs: SPREAD_MS, maxGapMs: MAX_GAP_MS });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function metrics(): BucketMetrics {
  const tap = {} as TapMetrics;
  for (const name of METRIC_NAMES) tap[name] = { count: 250, min: -30, max: -10, avg: -20, last: -20 };
  return { PRE: tap, POST: tap };
}

/** A whole live bucket of one station (a ramp, so the file is not all zeros). */
function record(stationKey: string, recordedPart: number | null = null): BucketRecord {
  store.insertStation({ trace_id: 'tr', station_key: stationKey, label: stationKey, codec: 'pcm16', sample_rate: RATE, stream_id: newStreamId(), started_at: T0, ended_at: null, end_reason: null, client: 'address:127.0.0.1' });
  const samples = (RATE * BUCKET_MS) / 1000;
  const audio = new Int16Array(samples).map((_, i) => (i * 7) % 30000);
  return {
    traceId: 'tr',
    stationKey,
    bucketTs: T0,
    bucketMs: BUCKET_MS,
    sampleRate: RATE,
    metrics: metrics(),
    knobs: defaultKnobs(),
    configVersion: 0,
    lastKnobEventId: null,
    ingest: { frames_received: 250, bytes_received: 160_000, frames_dropped: 0, decode_errors: 0, frames_concealed: 0, resyncs: 0, late_frames: 0, frames_out_of_order: 0 },
    sampleStart: 0,
    samples,
    pre: { chunkSamples: samples, chunks: [audio] },
    post: { chunkSamples: samples, chunks: [audio.slice()] },
    recordedPart,
    loudnessBlocks: recordedPart === null ? null : { PRE: new Float64Array(0), POST: new Float64Array(0) },
    client: 'address:127.0.0.1',
  };
}

const rows = (): number => store.listBuckets('tr', {}).length;

/** BS.1770-4 eq. 2, mono: the mean square of a 400 ms block that reads `lufs`. */
const power = (lufs: number): number => 10 ** ((lufs + 0.691) / 10);

/** Part `part`'s share of the recorded bucket: samples [from, to), `n` blocks at `lufs`, the station at `station` LUFS. */
function recordedShare(part: number, from: number, to: number, n: number, lufs: number, station: number): BucketRecord {
  const r = record(`rec${part}`, part);
  const metrics = metrics_();
  for (const tap of ['PRE', 'POST'] as const) {
    metrics[tap]['loudness.integrated_lufs'] = { bucket: lufs, station, active_s: n / 10 };
    metrics[tap]['loudness.range_lu'] = { station: 5 + part };
  }
  const b = new Float64Array(n).fill(power(lufs));
  return { ...r, stationKey: 'rec', sampleStart: from, samples: to, metrics, loudnessBlocks: { PRE: b, POST: b.slice() } };
}
const metrics_ = (): BucketMetrics => structuredClone(metrics());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a burst of live buckets', () => {
  it('is spread over the window: the first at once, the others evenly after it, every row and file written', async () => {
    const n = 12;
    const records = Array.from({ length: n }, (_, i) => record(`s${i}`));
    t0 = performance.now();
    for (const r of records) writer.enqueue(r);
    await sleep(SPREAD_MS / 4);
    const early = rows();
    // Waits it out (drain() would end the spacing).
    while (writtenAt.size < n && performance.now() - t0 < 10 * SPREAD_MS) await sleep(10);
    const times = records.map((r) => writtenAt.get(r.stationKey) as number);
    expect(times[0]).toBeLessThan(SPREAD_MS / 6);
    // A quarter into the window, about a quarter of the burst is in, not all of it.
    expect(early).toBeGreaterThanOrEqual(2);
    expect(early).toBeLessThanOrEqual(n / 2);
    // Each write waits its share of the window after the one before it.
    for (let i = 1; i < n; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(SPREAD_MS / n - 5);
    expect(times[n - 1]).toBeGreaterThanOrEqual(((n - 1) * SPREAD_MS) / n - 10);
    expect(rows()).toBe(n);
    for (const b of store.listBuckets('tr', {})) expect((await segments.readSamples(b.pre_path as string)).length).toBe((RATE * BUCKET_MS) / 1000);
    expect(writer.oldestPendingBucketTs()).toBe(Infinity);
  });

  it('holds a small burst at most the longest gap per write', async () => {
    t0 = performance.now();
    writer.enqueue(record('a'));
    writer.enqueue(record('b'));
    while (writtenAt.size < 2 && performance.now() - t0 < 10 * SPREAD_MS) await sleep(5);
    const gap = (writtenAt.get('b') as number) - (writtenAt.get('a') as number);
    // Spread evenly, two records would be SPREAD_MS / 2 apart.
    expect(gap).toBeGreaterThanOrEqual(MAX_GAP_MS - 5);
    expect(gap).toBeLessThan(SPREAD_MS / 2 - 50);
  });

  it('does not hold back a lone bucket', async () => {
    t0 = performance.now();
    writer.enqueue(record('alone'));
    while (writtenAt.size < 1 && performance.now() - t0 < 10 * SPREAD_MS) await sleep(5);
    expect(writtenAt.get('alone')).toBeLessThan(SPREAD_MS / 4);
    expect(rows()).toBe(1);
  });

  it('is written without spacing once drained (a relay stopping)', async () => {
    const n = 12;
    t0 = performance.now();
    for (let i = 0; i < n; i++) writer.enqueue(record(`s${i}`));
    await sleep(SPREAD_MS / 6);
    const before = rows();
    expect(before).toBeLessThan(n);
    await writer.drain();
    expect(rows()).toBe(n);
    expect(performance.now() - t0).toBeLessThan(SPREAD_MS / 2);
  });

  it('counts a bucket as pending until its row is in, not through the pause after it', async () => {
    t0 = performance.now();
    const done: string[] = [];
    writer.enqueue(record('a'), () => done.push('a'));
    writer.enqueue(record('b'), () => done.push('b'));
    await sleep(MAX_GAP_MS / 2);
    // a is written and its buffers given back; b waits out its spacing and is still pending.
    expect(done).toEqual(['a']);
    expect(writer.oldestPendingBucketTs()).toBe(T0);
    await writer.drain();
    expect(done).toEqual(['a', 'b']);
    expect(writer.oldestPendingBucketTs()).toBe(Infinity);
  });
});

describe('a recorded bucket two parts share', () => {
  const half = (RATE * BUCKET_MS) / 2000;

  it('is gated over the blocks of both, which each part\'s share keeps', async () => {
    record('rec', null); // the station row
    writer.enqueue(recordedShare(1, 0, half, 20, -20, -21));
    writer.enqueue(recordedShare(2, half, 2 * half, 20, -40, -23));
    await writer.drain();
    const row = store.getBucket('tr', 'rec', T0)!;
    // 20 blocks at -20 LUFS and 20 at -40 read -22.97 together; the relative gate (-32.97)
    // leaves the -20 blocks: -20.0 (BS.1770-4 §2.8). Station values: the later part's.
    const g = row.metrics.PRE['loudness.integrated_lufs']!;
    expect(g.bucket).toBeCloseTo(-20, 6);
    expect([g.station, g.active_s]).toEqual([-23, 2]);
    expect(row.metrics.POST['loudness.range_lu']).toEqual({ station: 7 });
    const kept = store.db.prepare('SELECT part, loudness_blocks FROM recorded_bucket_parts ORDER BY part').all() as { part: number; loudness_blocks: string }[];
    expect(kept.map((k) => [k.part, (JSON.parse(k.loudness_blocks) as { PRE: number[] }).PRE.length])).toEqual([[1, 20], [2, 20]]);
    expect((JSON.parse(kept[0].loudness_blocks) as { PRE: number[] }).PRE[0]).toBe(power(-20)); // exact
  });

  it('leaves the gated loudness out next to a share stored without blocks, and the row still reads', async () => {
    record('rec', null);
    writer.enqueue(recordedShare(1, 0, half, 20, -20, -21));
    await writer.drain();
    // As a share written before the blocks were kept: no loudness_blocks, no gated entries.
    const old = metrics_();
    store.db
      .prepare('UPDATE recorded_bucket_parts SET loudness_blocks = NULL, metrics = ? WHERE part = 1')
      .run(JSON.stringify(old));
    writer.enqueue(recordedShare(2, half, 2 * half, 20, -40, -23));
    await writer.drain();
    const row = store.getBucket('tr', 'rec', T0)!;
    expect(row.metrics.PRE['loudness.integrated_lufs']).toBeUndefined();
    expect(row.metrics.PRE['loudness.range_lu']).toEqual({ station: 7 });
    expect(row.metrics.PRE['pcm.rms_dbfs'].count).toBe(500);
  });
});
