/**
 * Uploads of offline recordings on a real relay, with real Opus: the packets go through the
 * live station pipeline at their capture times, and the buckets, metrics and segments that
 * come out are read back through the optimizer API and measured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../../protocol/metrics.ts';
import { dbToGain, measureRmsDbfs } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import { chunkOf, createBody, opusTone, UPLOAD_RATE, uploadClient } from '../testing/upload-client.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';

const BUCKET_MS = 5000;
const SINE_RMS_DB = -3.0103; // a sine's RMS is its peak minus 3.01 dB
const iso = (ms: number): string => new Date(ms).toISOString();
const samplesAt = (ms: number): number => (ms * UPLOAD_RATE) / 1000;

let t: TestRelay;
let up: ReturnType<typeof uploadClient>;

beforeAll(async () => {
  t = await startTestRelay({ snapshotMinIntervalMs: 0 });
  up = uploadClient(t.httpUrl, t.relay.adminToken);
});

afterAll(async () => {
  await t?.close();
});

/**
 * The amplitude of the `freqHz` component of x[start, end) (a single-bin DFT), and the share
 * of the window's energy it holds: 1 for a pure tone at that frequency.
 */
function tone(x: Float32Array, start: number, end: number, freqHz: number): { amplitude: number; share: number } {
  let i = 0;
  let q = 0;
  let energy = 0;
  const w = (2 * Math.PI * freqHz) / UPLOAD_RATE;
  for (let n = start; n < end; n++) {
    i += x[n] * Math.cos(w * n);
    q += x[n] * Math.sin(w * n);
    energy += x[n] * x[n];
  }
  const amplitude = (2 * Math.hypot(i, q)) / (end - start);
  return { amplitude, share: (amplitude * amplitude) / 2 / (energy / (end - start)) };
}

async function segment(traceId: string, stationKey: string, tap: 'PRE' | 'POST', bucketTs: number): Promise<Float32Array> {
  const r = await up.get(`/api/audio/segment?trace_id=${traceId}&station_key=${stationKey}&tap=${tap}&bucket_ts=${iso(bucketTs)}`);
  expect(r.status, r.body.toString()).toBe(200);
  const wav = readWav(r.body);
  expect(wav.sampleRate).toBe(UPLOAD_RATE);
  return wav.samples;
}

describe('an upload processed in one part', () => {
  it('puts 12 s of audio at its capture times, measured as live audio is, and keeps it out of the live view', async () => {
    const b = bucketStartMs(Date.now() - 60_000, BUCKET_MS);
    const startedAt = b + 4007; // packet 0 falls 4 s (and 7 ms) into bucket b
    const packets = opusTone(1000, -12, 12);
    expect(packets.length).toBe(600);

    const created = await up.create('one-part', createBody(startedAt, 'Field phone 1'));
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json).toMatchObject({ success: true, upload_id: 'one-part', station_key: 'Field-phone-1', label: 'Field phone 1', codec: 'opus', sample_rate: 48000, frame_ms: 20 });
    expect(created.json).toMatchObject({ started_at: iso(startedAt), packets_received: 0, end_index: 0, parts: [] });
    const { trace_id: traceId, station_key: key } = created.json;

    for (let first = 0; first < 600; first += 200) {
      const r = await up.chunk('one-part', first, chunkOf(packets.slice(first, first + 200), first));
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json).toMatchObject({ accepted: 200, duplicates: 0, packets_received: first + 200, end_index: first + 200 });
    }

    const part = await up.part('one-part', 0, 600);
    expect(part.status, JSON.stringify(part.json)).toBe(200);
    const buckets = [b, b + 5000, b + 10_000, b + 15_000];
    expect(part.json.parts).toEqual([{ first_index: 0, end_index: 600, frames: 600, bucket_ts: buckets.map(iso) }]);
    expect(part.json).toMatchObject({ packets_received: 600, end_index: 600 });

    // The trace: recorded, ended at the end of the capture, never active.
    const trace = (await up.get(`/api/traces/${traceId}`)).json.trace;
    expect(trace).toMatchObject({ kind: 'recorded', active: false, started_at: iso(startedAt), ended_at: iso(startedAt + 12_000), bucket_count: 4 });
    expect(trace).toMatchObject({ first_bucket_ts: iso(b), last_bucket_ts: iso(b + 15_000) });
    expect(trace.stations).toMatchObject([{ station_key: key, live: false, codec: 'opus', sample_rate: 48000, ended_at: iso(startedAt + 12_000) }]);
    const active = await up.get('/api/traces/active');
    expect(active.json.active.map((a: { trace_id: string }) => a.trace_id)).not.toContain(traceId);
    const measurement = await up.get(`/measurements?trace_id=${traceId}`);
    expect(JSON.stringify(measurement.json)).not.toContain(key);

    // The snapshot: every bucket, at the capture times, with the tone's level.
    const snap = await up.get(`/api/optimizer/snapshot?trace_id=${traceId}&limit=10`);
    expect(snap.status).toBe(200);
    expect(snap.json.buckets.map((e: { bucket_ts: string }) => e.bucket_ts)).toEqual(buckets.map(iso));
    const counts = snap.json.buckets.map((e: any) => e.metrics.PRE['pcm.rms_dbfs'].count);
    expect(counts).toEqual([50, 250, 250, 50]);
    for (const e of snap.json.buckets.slice(1, 3)) {
      expect(Math.abs(e.metrics.PRE['pcm.rms_dbfs'].avg - (-12 + SINE_RMS_DB)), `${e.bucket_ts} PRE rms`).toBeLessThan(0.5);
      expect(e.metrics.POST['pcm.rms_dbfs'].count).toBe(250);
    }
    // Sample ranges: the first bucket from 4 s on, the last up to 1 s.
    const first = t.relay.store.getBucket(traceId, key, b)!;
    const last = t.relay.store.getBucket(traceId, key, b + 15_000)!;
    expect([first.sample_start, first.samples]).toEqual([samplesAt(4000), samplesAt(5000)]);
    expect([last.sample_start, last.samples]).toEqual([0, samplesAt(1000)]);

    // The segments hold the tone where it was captured, and silence before it.
    const whole = await segment(traceId, key, 'PRE', b + 5000);
    expect(whole.length).toBe(samplesAt(5000));
    const m = tone(whole, 0, whole.length, 1000);
    expect(Math.abs(20 * Math.log10(m.amplitude / dbToGain(-12)))).toBeLessThan(0.5);
    expect(m.share).toBeGreaterThan(0.95);
    const head = await segment(traceId, key, 'PRE', b);
    expect(measureRmsDbfs(head, 0, samplesAt(3990))).toBe(-Infinity);
    expect(tone(head, samplesAt(4100), samplesAt(5000), 1000).share).toBeGreaterThan(0.95);
    expect((await segment(traceId, key, 'POST', b + 10_000)).length).toBe(samplesAt(5000));
  });
});

describe('idempotent and resumable uploads', () => {
  it('counts a repeated chunk as duplicates, resumes from the state, and processes a part once', async () => {
    const b = bucketStartMs(Date.now() - 120_000, BUCKET_MS);
    const packets = opusTone(1000, -12, 5);
    const startedAt = b + 1000;
    expect((await up.create('resume', createBody(startedAt))).status).toBe(201);

    // The first half, twice (a retry after a lost response).
    const firstHalf = chunkOf(packets.slice(0, 100), 0);
    expect((await up.chunk('resume', 0, firstHalf)).json).toMatchObject({ accepted: 100, duplicates: 0 });
    expect((await up.chunk('resume', 0, firstHalf)).json).toMatchObject({ accepted: 0, duplicates: 100, packets_received: 100 });

    // Interrupted: the state says where to go on.
    const state = await up.state('resume');
    expect(state.status).toBe(200);
    expect(state.json).toMatchObject({ success: true, packets_received: 100, end_index: 100, parts: [] });
    const again = await up.create('resume', createBody(startedAt));
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ packets_received: 100, station_key: 'capture' });

    expect((await up.chunk('resume', 100, chunkOf(packets.slice(100), 100))).json).toMatchObject({ accepted: 150, duplicates: 0, packets_received: 250, end_index: 250 });

    const once = await up.part('resume', 0, 250);
    expect(once.status, JSON.stringify(once.json)).toBe(200);
    const traceId = once.json.trace_id as string;
    const rows = (): unknown[] => t.relay.store.listBuckets(traceId);
    const shares = (): unknown[] => t.relay.store.db.prepare('SELECT * FROM recorded_bucket_parts WHERE trace_id = ?').all(traceId);
    const before = { rows: rows(), shares: shares() };
    expect(before.rows.length).toBe(2);

    const twice = await up.part('resume', 0, 250);
    expect(twice.status).toBe(200);
    expect(twice.json).toEqual(once.json);
    expect({ rows: rows(), shares: shares() }).toEqual(before);

    // Packets of a processed part are duplicates: nothing is stored again.
    expect((await up.chunk('resume', 0, firstHalf)).json).toMatchObject({ accepted: 0, duplicates: 100, packets_received: 250 });
    expect(t.relay.store.db.prepare("SELECT COUNT(*) AS n FROM upload_packets WHERE upload_id = 'resume'").get()).toEqual({ n: 0 });
  });
});

describe('two parts in one bucket', () => {
  it('merges their audio at their offsets with silence between, and their metrics', async () => {
    const b = bucketStartMs(Date.now() - 180_000, BUCKET_MS);
    const startedAt = b + 507; // packet 0 at 0.5 s into the bucket
    const a = opusTone(1000, -12, 2); // packets 0-99: 0.5 s to 2.5 s
    const later = opusTone(500, -20, 1); // packets 150-199: 3.5 s to 4.5 s (150-149 went live)
    expect((await up.create('merge', createBody(startedAt))).status).toBe(201);
    expect((await up.chunk('merge', 0, chunkOf(a, 0))).status).toBe(200);
    const st = await up.chunk('merge', 150, chunkOf(later, 150));
    expect(st.json).toMatchObject({ accepted: 50, packets_received: 150, end_index: 200 });

    // The later part first: the earlier one is then overlaid into its segments.
    const p2 = await up.part('merge', 150, 200);
    expect(p2.status, JSON.stringify(p2.json)).toBe(200);
    const p1 = await up.part('merge', 0, 100);
    expect(p1.status, JSON.stringify(p1.json)).toBe(200);
    expect(p1.json.parts).toEqual([
      { first_index: 0, end_index: 100, frames: 100, bucket_ts: [iso(b)] },
      { first_index: 150, end_index: 200, frames: 50, bucket_ts: [iso(b)] },
    ]);
    expect(p1.json).toMatchObject({ packets_received: 150, end_index: 200 });
    const traceId = p1.json.trace_id as string;
    const key = p1.json.station_key as string;

    const row = t.relay.store.getBucket(traceId, key, b)!;
    expect([row.sample_start, row.samples]).toEqual([samplesAt(500), samplesAt(4500)]);
    const rms = row.metrics.PRE['pcm.rms_dbfs'];
    expect(rms.count).toBe(150);
    const levelA = -12 + SINE_RMS_DB;
    const levelB = -20 + SINE_RMS_DB;
    // `last` is the later part's (processed first), avg weighted by frames.
    expect(Math.abs(rms.last - levelB)).toBeLessThan(0.5);
    expect(Math.abs(rms.avg - (100 * levelA + 50 * levelB) / 150)).toBeLessThan(0.5);
    expect(rms.max).toBeGreaterThan(levelA - 0.5);
    expect(rms.min).toBeLessThan(levelB + 0.5);
    for (const tap of ['PRE', 'POST'] as const) for (const name of METRIC_NAMES) expect(row.metrics[tap][name]?.count, name).toBe(150);
    expect(t.relay.store.listBuckets(traceId).length).toBe(1);

    const pre = await segment(traceId, key, 'PRE', b);
    expect(pre.length).toBe(samplesAt(4500));
    expect(measureRmsDbfs(pre, 0, samplesAt(490))).toBe(-Infinity);
    const partA = tone(pre, samplesAt(600), samplesAt(2400), 1000);
    expect(Math.abs(20 * Math.log10(partA.amplitude / dbToGain(-12)))).toBeLessThan(0.5);
    expect(partA.share).toBeGreaterThan(0.95);
    expect(measureRmsDbfs(pre, samplesAt(2520), samplesAt(3490))).toBe(-Infinity);
    const partB = tone(pre, samplesAt(3600), samplesAt(4400), 500);
    expect(Math.abs(20 * Math.log10(partB.amplitude / dbToGain(-20)))).toBeLessThan(0.5);
    expect(partB.share).toBeGreaterThan(0.95);
    expect((await segment(traceId, key, 'POST', b)).length).toBe(samplesAt(4500));
  });
});
