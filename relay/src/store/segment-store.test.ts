/**
 * The SQLite store and the WAV segment store, on a real SQLite file and real files in a
 * temporary data dir: segments read back exactly, retention deletes the oldest audio first
 * and keeps the rows, restarts clean up and recount.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultKnobs, mergeKnobs } from '../../../protocol/knobs.ts';
import { BUCKET_MS, METRIC_NAMES, type BucketMetrics, type MetricAggregate, type TapMetrics } from '../../../protocol/metrics.ts';
import { readWav } from '../audio/wav.ts';
import { newStreamId } from '../ids.ts';
import { MIGRATIONS } from './schema.ts';
import { SegmentStore, type RetentionPolicy, type SegmentKey } from './segment-store.ts';
import { Store, type BucketRow, type KnobEventRow } from './store.ts';

const RATE = 16000;
/** 2024-06-01T12:00:00Z, on a 5 s boundary. */
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);
const WAV_HEADER_BYTES = 44;
const HOUR_MS = 3600_000;

let dir: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-store-'));
  store = new Store(join(dir, 'tapwire.sqlite'));
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Aggregates of a bucket whose frames sat around `rmsDbfs` (peak 6 dB above). */
function metrics(rmsDbfs: number, frames = BUCKET_MS / 20): BucketMetrics {
  const agg = (center: number, spread: number): MetricAggregate => ({ count: frames, min: center - spread, max: center + spread, avg: center, last: center + spread / 2 });
  const tap = (gainDb: number): TapMetrics => {
    const m = {} as TapMetrics;
    for (const name of METRIC_NAMES) {
      m[name] =
        name === 'pcm.rms_dbfs' ? agg(rmsDbfs + gainDb, 3)
        : name === 'pcm.peak_dbfs' ? agg(rmsDbfs + gainDb + 6, 2)
        : name === 'pcm.clipping_ratio' ? agg(0, 0)
        : name === 'pcm.dc_offset' ? agg(0.0001, 0.00005)
        : agg(rmsDbfs + gainDb + 0.7, 4);
    }
    return m;
  };
  return { PRE: tap(0), POST: tap(-1.5) };
}

function addTrace(traceId: string, startedAt = T0, endedAt: number | null = null): void {
  store.insertTrace({ trace_id: traceId, kind: 'live', started_at: startedAt, ended_at: endedAt, call_id: null });
}

function addStation(traceId: string, stationKey: string, startedAt = T0, ended: { at: number; reason: string } | null = null): void {
  store.insertStation({
    trace_id: traceId,
    station_key: stationKey,
    label: `Mic ${stationKey}`,
    codec: 'pcm16',
    sample_rate: RATE,
    stream_id: newStreamId(),
    started_at: startedAt,
    ended_at: ended?.at ?? null,
    end_reason: ended?.reason ?? null,
    client: 'address:127.0.0.1',
  });
}

function bucketRow(traceId: string, stationKey: string, bucketTs: number, extra: Partial<BucketRow> = {}): BucketRow {
  return {
    trace_id: traceId,
    station_key: stationKey,
    bucket_ts: bucketTs,
    bucket_ms: BUCKET_MS,
    sample_rate: RATE,
    metrics: metrics(-20 - ((bucketTs - T0) / BUCKET_MS) % 10),
    knobs: defaultKnobs(),
    config_version: 0,
    last_knob_event_id: null,
    ingest: { frames_received: 250, bytes_received: 160_000, frames_dropped: 0, decode_errors: 0, frames_concealed: 0, resyncs: 0, late_frames: 0, frames_out_of_order: 0 },
    sample_start: 0,
    samples: (RATE * BUCKET_MS) / 1000,
    pre_path: null,
    post_path: null,
    segment_bytes: 0,
    client: 'address:127.0.0.1',
    ...extra,
  };
}

/** A deterministic, full-scale-reaching test signal: a ramp with both extremes in it. */
function samples(n: number, seed: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 2654435761 + seed * 40503) % 65536) - 32768;
  if (n > 1) {
    out[0] = -32768;
    out[n - 1] = 32767;
  }
  return out;
}

const seedOf = (stationKey: string, bucketTs: number): number => (bucketTs - T0) / 1000 + stationKey.length * 1000 + stationKey.charCodeAt(stationKey.length - 1);

const CLIENT = 'address:127.0.0.1';
const key = (traceId: string, stationKey: string, bucketTs: number, sampleRate = RATE, client = CLIENT): SegmentKey => ({ traceId, stationKey, bucketTs, sampleRate, client });

/** What the bucket writer does: segments first, then the row that points at them. */
async function writeBucket(segs: SegmentStore, traceId: string, stationKey: string, bucketTs: number, n: number): Promise<BucketRow> {
  const pre = samples(n, seedOf(stationKey, bucketTs));
  const post = samples(n, seedOf(stationKey, bucketTs) + 1);
  const w = await segs.write(key(traceId, stationKey, bucketTs), [pre], [post]);
  const row = bucketRow(traceId, stationKey, bucketTs, { samples: n, pre_path: w.prePath, post_path: w.postPath, segment_bytes: w.bytes });
  store.insertBucket(row);
  return row;
}

function segmentStore(retention: Partial<RetentionPolicy> = {}): SegmentStore {
  return new SegmentStore(join(dir, 'segments'), store, { maxAgeMs: 7 * 24 * HOUR_MS, maxBytes: 2 * 1024 ** 3, ...retention });
}

/** Every file under `root`, relative, sorted. */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

/** Int16 samples back from a float WAV read (16-bit PCM reads as s / 32768, exact in float32). */
function asInt16(f: Float32Array): number[] {
  return Array.from(f, (x) => Math.round(x * 32768));
}

describe('SegmentStore.write', () => {
  it('writes a PRE and a POST WAV that read back to the exact samples', async () => {
    addTrace('trace_a');
    addStation('trace_a', 'mic1');
    const segs = segmentStore();
    await segs.init();
    const pre = samples(RATE, 1); // one second
    const post = samples(RATE, 2);
    const w = await segs.write(key('trace_a', 'mic1', T0 + 5000), [pre], [post]);

    expect(w.prePath).toBe(join('trace_a', 'mic1', '20240601T120005000Z.PRE.wav'));
    expect(w.postPath).toBe(join('trace_a', 'mic1', '20240601T120005000Z.POST.wav'));
    expect(w.bytes).toBe(2 * (WAV_HEADER_BYTES + 2 * RATE));
    expect(segs.bytesOnDisk).toBe(w.bytes);

    for (const [path, expected] of [[w.prePath, pre], [w.postPath, post]] as const) {
      const buf = readFileSync(segs.absolute(path));
      expect(buf.length).toBe(WAV_HEADER_BYTES + 2 * RATE);
      const wav = readWav(buf);
      expect({ sampleRate: wav.sampleRate, channels: wav.channels, bitsPerSample: wav.bitsPerSample, frames: wav.frames }).toEqual({
        sampleRate: RATE,
        channels: 1,
        bitsPerSample: 16,
        frames: RATE,
      });
      expect(asInt16(wav.samples)).toEqual(Array.from(expected));
    }
    expect(readWav(readFileSync(segs.absolute(w.prePath))).samples[0]).toBe(-1);
    expect(filesUnder(segs.root)).toEqual([w.postPath, w.prePath].sort());
  });

  it('writes only the samples of a view into a larger buffer (as the writer passes subarrays)', async () => {
    const segs = segmentStore();
    await segs.init();
    const backing = samples(1000, 3);
    const pre = backing.subarray(100, 400);
    const post = new Int16Array(backing.buffer, 2 * 501, 7);
    const w = await segs.write(key('trace_b', 'st_x', T0, 8000), [pre], [post]);
    const preWav = readWav(readFileSync(segs.absolute(w.prePath)));
    const postWav = readWav(readFileSync(segs.absolute(w.postPath)));
    expect(preWav.sampleRate).toBe(8000);
    expect(asInt16(preWav.samples)).toEqual(Array.from(backing.slice(100, 400)));
    expect(asInt16(postWav.samples)).toEqual(Array.from(backing.slice(501, 508)));
    expect(w.bytes).toBe(2 * WAV_HEADER_BYTES + 2 * 300 + 2 * 7);
  });

  it('writes an empty bucket as a valid WAV with no frames', async () => {
    const segs = segmentStore();
    await segs.init();
    const w = await segs.write(key('trace_c', 'mic1', T0), [new Int16Array(0)], [new Int16Array(0)]);
    expect(w.bytes).toBe(2 * WAV_HEADER_BYTES);
    const wav = readWav(readFileSync(segs.absolute(w.prePath)));
    expect(wav.frames).toBe(0);
    expect(wav.sampleRate).toBe(RATE);
  });

  it('leaves no temporary files behind', async () => {
    const segs = segmentStore();
    await segs.init();
    for (let i = 0; i < 3; i++) await segs.write(key('trace_d', 'mic1', T0 + i * BUCKET_MS), [samples(10, i)], [samples(10, i + 1)]);
    const files = filesUnder(segs.root);
    expect(files).toHaveLength(6);
    expect(files.filter((f) => !f.endsWith('.wav'))).toEqual([]);
  });
});

describe('SegmentStore retention', () => {
  const N = 1000;
  const PER_BUCKET = 2 * (WAV_HEADER_BYTES + 2 * N); // 4088 bytes

  /** Ten buckets over two stations, written out of time order; returns them oldest first. */
  async function fill(segs: SegmentStore): Promise<BucketRow[]> {
    addTrace('trace_r');
    addStation('trace_r', 'mic1');
    addStation('trace_r', 'mic2');
    const plan: [string, number][] = [];
    for (let i = 0; i < 5; i++) plan.push(['mic1', T0 + i * BUCKET_MS], ['mic2', T0 + i * BUCKET_MS]);
    const shuffled = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5].map((i) => plan[i]);
    const rows: BucketRow[] = [];
    for (const [key, ts] of shuffled) rows.push(await writeBucket(segs, 'trace_r', key, ts, N));
    return rows.sort((a, b) => a.bucket_ts - b.bucket_ts);
  }

  it('deletes the oldest segments first until the total is under the size limit, keeping the rows', async () => {
    const maxBytes = 4 * PER_BUCKET + 100;
    const segs = segmentStore({ maxBytes });
    await segs.init();
    const rows = await fill(segs);
    expect(segs.bytesOnDisk).toBe(10 * PER_BUCKET);
    expect(store.segmentBytes()).toBe(10 * PER_BUCKET);
    expect(segs.needsSweep()).toBe(true);

    const removed = await segs.sweep(T0 + 60_000);

    expect(removed).toBe(6);
    expect(segs.bytesOnDisk).toBe(4 * PER_BUCKET);
    expect(segs.bytesOnDisk).toBeLessThanOrEqual(maxBytes);
    expect(store.segmentBytes()).toBe(4 * PER_BUCKET);
    expect(segs.needsSweep()).toBe(false);
    const [gone, kept] = [rows.slice(0, 6), rows.slice(6)];
    for (const r of gone) {
      const now = store.getBucket(r.trace_id, r.station_key, r.bucket_ts);
      expect(now, `${r.station_key}@${r.bucket_ts}`).toEqual({ ...r, pre_path: null, post_path: null, segment_bytes: 0 });
      expect(existsSync(segs.absolute(r.pre_path as string))).toBe(false);
      expect(existsSync(segs.absolute(r.post_path as string))).toBe(false);
    }
    for (const r of kept) {
      expect(store.getBucket(r.trace_id, r.station_key, r.bucket_ts)).toEqual(r);
      expect(asInt16(readWav(readFileSync(segs.absolute(r.pre_path as string))).samples)).toEqual(Array.from(samples(N, seedOf(r.station_key, r.bucket_ts))));
    }
    expect(filesUnder(segs.root)).toEqual(kept.flatMap((r) => [r.pre_path as string, r.post_path as string]).sort());
    expect(store.bucketRange('trace_r').count).toBe(10);
  });

  it('stops exactly at the limit (a total equal to the limit is kept)', async () => {
    const segs = segmentStore({ maxBytes: 2 * PER_BUCKET });
    await segs.init();
    await fill(segs);
    expect(await segs.sweep(T0)).toBe(8);
    expect(segs.bytesOnDisk).toBe(2 * PER_BUCKET);
    expect(await segs.sweep(T0)).toBe(0);
  });

  it('does nothing when under both limits', async () => {
    const segs = segmentStore();
    await segs.init();
    await fill(segs);
    expect(segs.needsSweep()).toBe(false);
    expect(await segs.sweep(T0 + 60_000)).toBe(0);
    expect(filesUnder(segs.root)).toHaveLength(20);
  });

  it('deletes segments whose bucket started more than maxAgeMs ago, and only those', async () => {
    const maxAgeMs = 24 * HOUR_MS;
    const segs = segmentStore({ maxAgeMs });
    await segs.init();
    const rows = await fill(segs);
    // The two buckets at T0 + 10000 are exactly maxAgeMs old at `now` (kept); the four
    // at T0 and T0 + 5000 are older (deleted).
    const now = T0 + 2 * BUCKET_MS + maxAgeMs;
    const removed = await segs.sweep(now);
    expect(removed).toBe(4);
    for (const r of rows) {
      const old = r.bucket_ts < now - maxAgeMs;
      const row = store.getBucket(r.trace_id, r.station_key, r.bucket_ts) as BucketRow;
      expect(row.pre_path === null, `${r.station_key}@${r.bucket_ts}`).toBe(old);
      expect(row.metrics).toEqual(r.metrics);
      expect(existsSync(segs.absolute(r.pre_path as string))).toBe(!old);
    }
    expect(segs.bytesOnDisk).toBe(6 * PER_BUCKET);
  });

  it('deletes everything once every bucket is past the age limit', async () => {
    const segs = segmentStore({ maxAgeMs: HOUR_MS });
    await segs.init();
    await fill(segs);
    expect(await segs.sweep(T0 + 2 * HOUR_MS)).toBe(10);
    expect(segs.bytesOnDisk).toBe(0);
    expect(store.segmentBytes()).toBe(0);
    expect(filesUnder(segs.root)).toEqual([]);
  });

  it('sweeps more than one batch of 64', async () => {
    addTrace('trace_many');
    addStation('trace_many', 'mic1');
    const segs = segmentStore({ maxAgeMs: HOUR_MS });
    await segs.init();
    for (let i = 0; i < 150; i++) await writeBucket(segs, 'trace_many', 'mic1', T0 + i * BUCKET_MS, 4);
    expect(await segs.sweep(T0 + 149 * BUCKET_MS + HOUR_MS)).toBe(149);
    expect(store.segmentBytes()).toBe(2 * (WAV_HEADER_BYTES + 8));
  });
});

describe('SegmentStore.init', () => {
  it('creates the segment root', async () => {
    const segs = segmentStore();
    expect(existsSync(segs.root)).toBe(false);
    await segs.init();
    expect(statSync(segs.root).isDirectory()).toBe(true);
    expect(segs.bytesOnDisk).toBe(0);
  });

  it('removes stray *.tmp files and WAVs no row refers to, at any depth, and keeps everything else', async () => {
    addTrace('trace_i');
    addStation('trace_i', 'mic1');
    const first = segmentStore();
    await first.init();
    const a = await writeBucket(first, 'trace_i', 'mic1', T0, 50);
    const b = await writeBucket(first, 'trace_i', 'mic1', T0 + BUCKET_MS, 50);
    // A crash mid-write leaves `<name>.wav.tmp` beside the real files.
    const stationDir = join(first.root, 'trace_i', 'mic1');
    writeFileSync(join(stationDir, '20240601T120010000Z.PRE.wav.tmp'), Buffer.alloc(30));
    writeFileSync(join(first.root, 'stray.tmp'), 'x');
    mkdirSync(join(first.root, 'trace_j', 'st_deep'), { recursive: true });
    writeFileSync(join(first.root, 'trace_j', 'st_deep', 'x.POST.wav.tmp'), 'x');
    writeFileSync(join(first.root, 'notes.txt'), 'kept');
    // A crash after a segment's rename but before its row: an orphan nothing will ever sweep.
    writeFileSync(join(stationDir, '20240601T120010000Z.POST.wav'), 'orphan');

    const second = segmentStore();
    await second.init();

    expect(filesUnder(second.root)).toEqual(
      [a.pre_path, a.post_path, b.pre_path, b.post_path, 'notes.txt'].map(String).sort(),
    );
  });

  it('recomputes bytes on disk from the store, not from the files', async () => {
    addTrace('trace_k');
    addStation('trace_k', 'mic1');
    const first = segmentStore({ maxBytes: 3 * 2 * (WAV_HEADER_BYTES + 2 * 100) });
    await first.init();
    for (let i = 0; i < 5; i++) await writeBucket(first, 'trace_k', 'mic1', T0 + i * BUCKET_MS, 100);
    await first.sweep(T0);
    const expected = 3 * 2 * (WAV_HEADER_BYTES + 2 * 100);
    expect(first.bytesOnDisk).toBe(expected);
    // A file the store does not point at is not counted.
    writeFileSync(join(first.root, 'trace_k', 'mic1', 'unrelated.wav'), Buffer.alloc(10_000));

    const second = segmentStore();
    expect(second.bytesOnDisk).toBe(0);
    await second.init();
    expect(second.bytesOnDisk).toBe(expected);
    expect(second.bytesOnDisk).toBe(store.segmentBytes());
  });

  it('picks up where a previous process left off (a new Store on the same file)', async () => {
    addTrace('trace_l');
    addStation('trace_l', 'mic1');
    const first = segmentStore();
    await first.init();
    await writeBucket(first, 'trace_l', 'mic1', T0, 200);
    store.close();
    store = new Store(join(dir, 'tapwire.sqlite'));
    const second = segmentStore();
    await second.init();
    expect(second.bytesOnDisk).toBe(2 * (WAV_HEADER_BYTES + 400));
  });
});

describe('Store', () => {
  it('runs every migration once, records the version, and keeps data across reopen', () => {
    expect(MIGRATIONS.length).toBeGreaterThanOrEqual(1);
    expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    addTrace('trace_m');
    store.close();
    store = new Store(join(dir, 'tapwire.sqlite'));
    expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.getTrace('trace_m')).toEqual({ trace_id: 'trace_m', kind: 'live', started_at: T0, ended_at: null, call_id: null, mix_stream_id: null });
  });

  it('close() is safe to call twice', () => {
    store.close();
    expect(() => store.close()).not.toThrow();
    store = new Store(join(dir, 'tapwire.sqlite'));
  });

  it('numbers stations per trace in insertion order', () => {
    addTrace('trace_n');
    addTrace('trace_o');
    addStation('trace_n', 'zeta');
    addStation('trace_o', 'other');
    addStation('trace_n', 'alpha');
    expect(store.listStations('trace_n').map((s) => [s.station_key, s.ordinal])).toEqual([
      ['zeta', 0],
      ['alpha', 1],
    ]);
    expect(store.getStation('trace_o', 'other')?.ordinal).toBe(0);
  });

  it('enforces foreign keys: no bucket without its station', () => {
    addTrace('trace_p');
    expect(() => store.insertBucket(bucketRow('trace_p', 'missing', T0))).toThrow(/FOREIGN KEY/);
    expect(() => addStation('no_such_trace', 'mic1')).toThrow(/FOREIGN KEY/);
  });

  it('round-trips a bucket row with its JSON columns', () => {
    addTrace('trace_q');
    addStation('trace_q', 'mic1');
    const row = bucketRow('trace_q', 'mic1', T0, {
      knobs: mergeKnobs(defaultKnobs(), { 'compressor.enabled': true, 'compressor.ratio': 6.5 }),
      config_version: 3,
      sample_start: 1234,
      samples: 70_000,
      ingest: { frames_received: 249, bytes_received: 159_360, frames_dropped: 1, decode_errors: 2, frames_concealed: 1, resyncs: 0, late_frames: 3, frames_out_of_order: 4 },
    });
    store.insertBucket(row);
    expect(store.getBucket('trace_q', 'mic1', T0)).toEqual(row);
    expect(store.getBucket('trace_q', 'mic1', T0 + BUCKET_MS)).toBeUndefined();
  });

  describe('endOpenOnRestart', () => {
    it("ends open stations at their last bucket's end (or their start) and open traces at their last station's end", () => {
      addTrace('trace_open', T0);
      addStation('trace_open', 'with_buckets', T0);
      addStation('trace_open', 'no_buckets', T0 + 2000);
      addStation('trace_open', 'stopped', T0, { at: T0 + 3000, reason: 'stop' });
      for (const ts of [T0, T0 + BUCKET_MS, T0 + 2 * BUCKET_MS]) store.insertBucket(bucketRow('trace_open', 'with_buckets', ts));
      addTrace('trace_empty', T0 + 500);
      addTrace('trace_done', T0 - HOUR_MS, T0 - HOUR_MS + 60_000);
      addStation('trace_done', 'mic1', T0 - HOUR_MS, { at: T0 - HOUR_MS + 60_000, reason: 'stop' });

      expect(store.endOpenOnRestart(T0 + HOUR_MS)).toEqual({ traces: 2, stations: 2 });

      expect(store.getStation('trace_open', 'with_buckets')).toMatchObject({ ended_at: T0 + 3 * BUCKET_MS, end_reason: 'relay_restart' });
      expect(store.getStation('trace_open', 'no_buckets')).toMatchObject({ ended_at: T0 + 2000, end_reason: 'relay_restart' });
      expect(store.getStation('trace_open', 'stopped')).toMatchObject({ ended_at: T0 + 3000, end_reason: 'stop' });
      expect(store.getTrace('trace_open')?.ended_at).toBe(T0 + 3 * BUCKET_MS);
      expect(store.getTrace('trace_empty')?.ended_at).toBe(T0 + 500);
      expect(store.getTrace('trace_done')?.ended_at).toBe(T0 - HOUR_MS + 60_000);
      expect(store.getStation('trace_done', 'mic1')).toMatchObject({ ended_at: T0 - HOUR_MS + 60_000, end_reason: 'stop' });
    });

    it('leaves nothing open, so a second call changes nothing', () => {
      addTrace('trace_twice');
      addStation('trace_twice', 'mic1');
      expect(store.endOpenOnRestart(T0 + 1)).toEqual({ traces: 1, stations: 1 });
      expect(store.endOpenOnRestart(T0 + 2)).toEqual({ traces: 0, stations: 0 });
      const open = store.db.prepare('SELECT (SELECT COUNT(*) FROM traces WHERE ended_at IS NULL) + (SELECT COUNT(*) FROM stations WHERE ended_at IS NULL) AS n').get() as { n: number };
      expect(open.n).toBe(0);
    });
  });

  describe('listBuckets', () => {
    // Stations inserted as zeta (ordinal 0) then alpha (ordinal 1): ordinal, not name, breaks ties.
    const TS = [0, 1, 2, 3, 4].map((i) => T0 + i * BUCKET_MS);
    const key = (r: BucketRow): string => `${(r.bucket_ts - T0) / BUCKET_MS}:${r.station_key}`;

    beforeEach(() => {
      addTrace('trace_l1');
      addStation('trace_l1', 'zeta');
      addStation('trace_l1', 'alpha');
      addTrace('trace_other');
      addStation('trace_other', 'zeta');
      // Inserted newest first and alpha before zeta, so insertion order cannot pass for sorting.
      for (const ts of [...TS].reverse()) {
        store.insertBucket(bucketRow('trace_l1', 'alpha', ts));
        if (ts !== TS[2]) store.insertBucket(bucketRow('trace_l1', 'zeta', ts));
        store.insertBucket(bucketRow('trace_other', 'zeta', ts));
      }
    });

    it('orders by bucket_ts ascending, then station ordinal, within one trace', () => {
      expect(store.listBuckets('trace_l1').map(key)).toEqual(['0:zeta', '0:alpha', '1:zeta', '1:alpha', '2:alpha', '3:zeta', '3:alpha', '4:zeta', '4:alpha']);
    });

    it('filters by station', () => {
      expect(store.listBuckets('trace_l1', { stationKey: 'zeta' }).map(key)).toEqual(['0:zeta', '1:zeta', '3:zeta', '4:zeta']);
      expect(store.listBuckets('trace_l1', { stationKey: 'nobody' })).toEqual([]);
    });

    it('limit takes the first rows; latest + limit takes the last rows, still in ascending order', () => {
      expect(store.listBuckets('trace_l1', { limit: 3 }).map(key)).toEqual(['0:zeta', '0:alpha', '1:zeta']);
      expect(store.listBuckets('trace_l1', { latest: true, limit: 3 }).map(key)).toEqual(['3:alpha', '4:zeta', '4:alpha']);
      expect(store.listBuckets('trace_l1', { latest: true, limit: 2, stationKey: 'zeta' }).map(key)).toEqual(['3:zeta', '4:zeta']);
      expect(store.listBuckets('trace_l1', { latest: true }).map(key)).toEqual(store.listBuckets('trace_l1').map(key));
      expect(store.listBuckets('trace_l1', { limit: 0 })).toEqual([]);
    });

    it('sinceBucketTs returns buckets strictly after it', () => {
      expect(store.listBuckets('trace_l1', { sinceBucketTs: TS[3] }).map(key)).toEqual(['4:zeta', '4:alpha']);
      expect(store.listBuckets('trace_l1', { sinceBucketTs: TS[3] - 1 }).map(key)).toEqual(['3:zeta', '3:alpha', '4:zeta', '4:alpha']);
      expect(store.listBuckets('trace_l1', { sinceBucketTs: TS[4] })).toEqual([]);
      expect(store.listBuckets('trace_l1', { sinceBucketTs: TS[0], limit: 2 }).map(key)).toEqual(['1:zeta', '1:alpha']);
      expect(store.listBuckets('trace_l1', { sinceBucketTs: TS[0], stationKey: 'alpha', latest: true, limit: 1 }).map(key)).toEqual(['4:alpha']);
    });

    it('returns whole rows with parsed JSON', () => {
      const [first] = store.listBuckets('trace_l1', { limit: 1 });
      expect(first).toEqual(bucketRow('trace_l1', 'zeta', TS[0]));
      expect(store.bucketRange('trace_l1')).toEqual({ first: TS[0], last: TS[4], count: 9 });
      expect(store.bucketRange('trace_l1', 'zeta')).toEqual({ first: TS[0], last: TS[4], count: 4 });
    });
  });

  describe('knob events', () => {
    const event = (id: number, stationKey: string, extra: Partial<KnobEventRow> = {}): KnobEventRow => ({
      id,
      trace_id: 'trace_ke',
      station_key: stationKey,
      created_at: T0 + id,
      apply_at_bucket_ts: T0 + (id + 1) * BUCKET_MS,
      knobs_requested: { 'compressor.enabled': true, 'compressor.ratio': 40 },
      knobs_effective: { 'compressor.enabled': true, 'compressor.ratio': 20 },
      source: 'optimizer',
      reason: 'reduce dynamic range',
      config_version: id,
      idempotency_key: `key-${id}`,
      request_hash: `sha256:${id.toString(16).padStart(64, '0')}`,
      superseded_by: null,
      ...extra,
    });

    beforeEach(() => {
      addTrace('trace_ke');
      addStation('trace_ke', 'mic1');
      addStation('trace_ke', 'mic2');
    });

    it('round-trips events with their JSON, ordered by id, per trace or station', () => {
      expect(store.maxKnobEventId()).toBe(0);
      const e3 = event(3, 'mic2');
      const e1 = event(1, 'mic1');
      const e2 = event(2, 'mic1', { source: null, reason: null, idempotency_key: null, request_hash: null, knobs_requested: { 'hpf.cutoff_hz': 120.5 }, knobs_effective: { 'hpf.cutoff_hz': 120.5 } });
      for (const e of [e3, e1, e2]) store.insertKnobEvent(e);
      expect(store.listKnobEvents('trace_ke')).toEqual([e1, e2, e3]);
      expect(store.listKnobEvents('trace_ke', 'mic1')).toEqual([e1, e2]);
      expect(store.listKnobEvents('trace_ke', 'mic3')).toEqual([]);
      expect(store.listKnobEvents('trace_nope')).toEqual([]);
      expect(store.maxKnobEventId()).toBe(3);
    });

    it('rejects a second event with the same idempotency key, and keeps the first', () => {
      store.insertKnobEvent(event(1, 'mic1', { idempotency_key: 'apply-42' }));
      let err: unknown;
      try {
        store.insertKnobEvent(event(2, 'mic2', { idempotency_key: 'apply-42' }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Database.SqliteError);
      expect((err as InstanceType<typeof Database.SqliteError>).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect((err as Error).message).toContain('knob_events.idempotency_key');
      expect(store.listKnobEvents('trace_ke').map((e) => e.id)).toEqual([1]);
    });

    it('allows any number of events without an idempotency key', () => {
      for (let id = 1; id <= 3; id++) store.insertKnobEvent(event(id, 'mic1', { idempotency_key: null }));
      expect(store.listKnobEvents('trace_ke')).toHaveLength(3);
    });

    it('rejects a duplicate id and an event for an unknown station', () => {
      store.insertKnobEvent(event(1, 'mic1'));
      expect(() => store.insertKnobEvent(event(1, 'mic1', { idempotency_key: 'other' }))).toThrow(/UNIQUE|PRIMARY KEY/);
      expect(() => store.insertKnobEvent(event(2, 'ghost'))).toThrow(/FOREIGN KEY/);
    });
  });
});
