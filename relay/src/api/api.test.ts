/**
 * The optimizer contract (seed 000 §5, §7, §8), end to end on a real relay:
 * real stations stream real audio, real buckets complete, and every endpoint is called over
 * HTTP as an optimizer would call it.
 *
 * One stream, shared by every test (buckets complete at end + 1 s grace, so a bucket costs
 * 5 s of wall time):
 * - trace A: `St_3_3333` (label 3333, 1 kHz sine at -20 dBFS peak) and `St_3_4444` (label
 *   4444, 500 Hz at -30 dBFS), streaming from about 1 s before bucket B0 until the end;
 *   during B0 the API schedules +6 dB on 3333 and +99 dB (clamped to +40) on 4444 for B1;
 * - trace B: one unlabelled station, streaming throughout (for applies made by the tests);
 * - trace C: one station that streams 1.5 s and stops (an ended trace);
 * - trace D: three spare stations, each used by one apply that must not meet another's limit.
 *
 * The snapshot rate limit stays on (the default): each pull that is not about the limit
 * uses a fresh token, since the limit is per token and trace.
 */
import type { ApplyRequest } from '../../../protocol/optimizer-api.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultKnobs, KNOB_NAMES, KNOBS } from '../../../protocol/knobs.ts';
import { INTEGRATED_LOUDNESS, LOUDNESS_RANGE, METRIC_NAMES, TAPS } from '../../../protocol/metrics.ts';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { alignToBucket, sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';

const RATE = 16000;
const BUCKET_MS = 5000;
const GRACE_MS = 1000;
const A1 = 'St_3_3333';
const A2 = 'St_3_4444';
const A1_PEAK_DBFS = -20;
const A2_PEAK_DBFS = -30;
const SINE_RMS_OFFSET_DB = -3.0103; // the RMS of a sine is its peak minus 3.01 dB
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let t: TestRelay;
let streamStartMs = 0;
let b0 = 0; // the first bucket every trace-A station covers whole
let traceA = '';
let traceB = '';
let traceC = '';
let stationB = '';
let stationC = '';
let traceD = ''; // three spare stations for cases that must not share a station's apply limit
const spareD = ['spare-1', 'spare-2', 'spare-3'];
const live: SimulatedStation[] = [];
let streaming: Promise<void> = Promise.resolve();
/** The two applies made during B0 for B1, as sent and as answered. */
let apply1: { body: ApplyRequest; res: Res };
let apply2: { body: ApplyRequest; res: Res };

interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  json: any;
}


const iso = (ms: number): string => new Date(ms).toISOString();
const bucketOf = (ms: number): number => Math.floor(ms / BUCKET_MS) * BUCKET_MS;
let keySeq = 0;
const freshKey = (): string => `test-${process.pid}-${Date.now()}-${keySeq++}`;

async function call(path: string, opts: { token?: string | null; method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? t.relay.adminToken : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${t.httpUrl}${path}`, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const body = Buffer.from(await r.arrayBuffer());
  let json: unknown = undefined;
  if ((r.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(body.toString('utf8'));
  return { status: r.status, headers: r.headers, body, json };
}

const tokenWith = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'api.test').token;

/** A snapshot pull with a token of its own, so the per-token rate limit does not interfere. */
const snapshot = (query: string): Promise<Res> => call(`/api/optimizer/snapshot?${query}`, { token: tokenWith('read:snapshots') });

const applyKnobs = (body: unknown): Promise<Res> => call('/api/optimizer/knobs/apply', { body, token: tokenWith('write:knobs') });

/** Seed 000 §7: `{"success":false,"error":{"code","message"}}`, a message that says something. */
function expectError(res: Res, status: number, code?: string): void {
  expect(res.status, `${res.status} ${res.body.toString('utf8')}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  expect(res.json).toEqual({ success: false, error: { code: expect.any(String), message: expect.any(String) } });
  expect(res.json.error.message.trim().length).toBeGreaterThan(0);
  if (code !== undefined) expect(res.json.error.code).toBe(code);
}

/** Waits until the wall clock is between `fromMs` and `toMs` into a bucket. */
async function inBucketWindow(fromMs: number, toMs: number): Promise<void> {
  const into = Date.now() % BUCKET_MS;
  if (into >= fromMs && into <= toMs) return;
  await sleep((fromMs - into + BUCKET_MS) % BUCKET_MS);
}

/**
 * A moment when no bucket is completing: the latest complete bucket is then the one before
 * the bucket in progress, and it has been written.
 */
async function quietMoment(): Promise<number> {
  await inBucketWindow(GRACE_MS + 1000, BUCKET_MS - 600);
  return bucketOf(Date.now()) - BUCKET_MS;
}

const events = async (traceId: string, stationKey?: string): Promise<Res> =>
  call(`/api/optimizer/events?trace_id=${traceId}${stationKey === undefined ? '' : `&station_key=${stationKey}`}`, { token: tokenWith('read:snapshots') });

beforeAll(async () => {
  t = await startTestRelay({ mediaWorkers: 2 });
  expect(t.relay.config.snapshotMinIntervalMs).toBe(5000); // the §8 limit is on by default
  const a1Audio = encodeAudio(sine(1000, A1_PEAK_DBFS, 10, RATE), RATE, 'pcm16');
  const a2Audio = encodeAudio(sine(500, A2_PEAK_DBFS, 10, RATE), RATE, 'pcm16');
  const other = encodeAudio(sine(700, -25, 10, RATE), RATE, 'pcm16');

  // Start about 1 s before a boundary: B0 is then covered whole by trace A.
  await alignToBucket(3900);
  b0 = bucketOf(Date.now()) + BUCKET_MS;
  const a1 = new SimulatedStation({ url: t.wsUrl, audio: a1Audio, stationKey: A1, label: '3333', durationS: 120 });
  traceA = (await a1.connect()).trace_id;
  // 4444 starts 100 ms after 3333, so it is the second station of the trace.
  const a2 = new SimulatedStation({ url: t.wsUrl, audio: a2Audio, traceId: traceA, stationKey: A2, label: '4444', durationS: 120, offsetMs: 100 });
  const b = new SimulatedStation({ url: t.wsUrl, audio: other, durationS: 120 });
  const c = new SimulatedStation({ url: t.wsUrl, audio: other, label: 'gone', durationS: 1.5 });
  const d1 = new SimulatedStation({ url: t.wsUrl, audio: other, stationKey: spareD[0], durationS: 120 });
  traceD = (await d1.connect()).trace_id;
  const d = spareD.slice(1).map((key) => new SimulatedStation({ url: t.wsUrl, audio: other, traceId: traceD, stationKey: key, durationS: 120 }));
  const [, sb, sc] = await Promise.all([a2.connect(), b.connect(), c.connect(), ...d.map((s) => s.connect())]);
  traceB = sb.trace_id;
  stationB = sb.station_key;
  traceC = sc.trace_id;
  stationC = sc.station_key;
  live.push(a1, a2, b, d1, ...d);
  streamStartMs = Date.now();
  streaming = runStations(live);
  const ended = runStations([c]);
  expect(Date.now()).toBeLessThan(b0 - 300);

  // During B0, schedule changes for B1 through the API, as the optimizer does.
  await waitFor(() => (Date.now() >= b0 + 300 ? true : undefined), 10_000, 'bucket B0');
  const body1: ApplyRequest = {
    trace_id: traceA,
    station_key: A1,
    apply_at_bucket_ts: iso(b0 + BUCKET_MS),
    idempotency_key: freshKey(),
    source: 'auto_optimizer',
    reason: 'raise the level by 6 dB',
    knobs: { 'pcm.input_gain_db': 6 },
  };
  const body2: ApplyRequest = {
    trace_id: traceA,
    station_key: A2,
    apply_at_bucket_ts: iso(b0 + BUCKET_MS),
    idempotency_key: freshKey(),
    source: 'api.test',
    reason: 'a gain beyond the range is clamped',
    knobs: { 'pcm.input_gain_db': 99 },
  };
  apply1 = { body: body1, res: await applyKnobs(body1) };
  apply2 = { body: body2, res: await applyKnobs(body2) };
  expect(bucketOf(Date.now())).toBe(b0);

  await ended;
  // B1 is complete one grace period after its end; give the writer a moment more.
  await waitFor(() => (Date.now() >= b0 + 2 * BUCKET_MS + GRACE_MS + 700 ? true : undefined), 20_000, 'bucket B1 complete');
}, 60_000);

afterAll(async () => {
  for (const s of live) s.stop();
  await Promise.race([streaming, sleep(5000)]);
  await t?.close();
});

describe('GET /api/traces/active (seed 000 §5.1)', () => {
  it('lists live traces exactly as §5.1 shows them, and not the ended one', async () => {
    const res = await call('/api/traces/active', { token: tokenWith('read:snapshots') });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['active', 'success']);
    expect(res.json.success).toBe(true);
    const active = res.json.active as Record<string, unknown>[];
    expect(active.map((a) => a.trace_id).sort()).toEqual([traceA, traceB, traceD].sort());
    expect(active.some((a) => a.trace_id === traceC)).toBe(false);
    for (const a of active) {
      const keys = Object.keys(a).sort();
      // call_id is optional: absent, null or a string.
      expect(keys.filter((k) => k !== 'call_id')).toEqual(['dst_extension', 'src_extension', 'started_at', 'stations', 'trace_id']);
      if ('call_id' in a) expect(a.call_id === null || typeof a.call_id === 'string').toBe(true);
      expect(a.started_at).toMatch(ISO_MS);
      const started = Date.parse(a.started_at as string);
      expect(started).toBeGreaterThanOrEqual(streamStartMs - 2000);
      expect(started).toBeLessThanOrEqual(streamStartMs + 2000);
    }
    const a = active.find((x) => x.trace_id === traceA)!;
    expect(a).toMatchObject({ src_extension: '3333', dst_extension: '4444', stations: [A1, A2] });
    // A station without a label, and no second station: both null.
    const b = active.find((x) => x.trace_id === traceB)!;
    expect(b).toMatchObject({ src_extension: null, dst_extension: null, stations: [stationB] });
  });
});

describe('POST /api/optimizer/knobs/apply, the changes made during B0 (seed 000 §5.4)', () => {
  it('answers exactly §5.4: accepted, apply_at, config_version previous + 1, effective knobs', () => {
    expect(apply1.res.status, JSON.stringify(apply1.res.json)).toBe(200);
    expect(apply1.res.json).toEqual({
      success: true,
      accepted: true,
      apply_at_bucket_ts: iso(b0 + BUCKET_MS),
      config_version: 1,
      effective_knobs: { 'pcm.input_gain_db': 6 },
    });
  });

  it('clamps values to the knob range and says so in effective_knobs (99 dB -> 40 dB)', () => {
    expect(apply2.res.status, JSON.stringify(apply2.res.json)).toBe(200);
    const max = KNOBS.find((k) => k.name === 'pcm.input_gain_db')!.max;
    expect(max).toBe(40);
    expect(apply2.res.json).toEqual({
      success: true,
      accepted: true,
      apply_at_bucket_ts: iso(b0 + BUCKET_MS),
      config_version: 1,
      effective_knobs: { 'pcm.input_gain_db': 40 },
    });
  });
});

describe('GET /api/optimizer/snapshot (seed 000 §5.2)', () => {
  it('gives every field of §5.2 with the right types, every knob and every metric', async () => {
    const res = await snapshot(`trace_id=${traceA}&since_bucket_ts=${iso(b0 - 2 * BUCKET_MS)}&limit=100`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['buckets', 'success', 'trace_id']);
    expect(res.json).toMatchObject({ success: true, trace_id: traceA });
    const buckets = res.json.buckets as Record<string, unknown>[];
    expect(buckets.length).toBeGreaterThanOrEqual(4); // B0 and B1 of both stations at least
    for (const b of buckets) {
      expect(Object.keys(b).sort()).toEqual(
        ['audio', 'bucket_ms', 'bucket_ts', 'config_version', 'knobs_snapshot', 'last_knob_event_id', 'metrics', 'station_key'].sort(),
      );
      expect(b.bucket_ts).toMatch(ISO_MS);
      expect(Date.parse(b.bucket_ts as string) % BUCKET_MS).toBe(0);
      expect(b.bucket_ms).toBe(5000);
      expect([A1, A2]).toContain(b.station_key);
      const knobs = b.knobs_snapshot as Record<string, unknown>;
      expect(Object.keys(knobs).sort()).toEqual([...KNOB_NAMES].sort());
      for (const k of KNOBS) expect(typeof knobs[k.name]).toBe(k.type);
      const metrics = b.metrics as Record<string, Record<string, Record<string, unknown>>>;
      expect(Object.keys(metrics).sort()).toEqual([...TAPS].sort());
      for (const tap of TAPS) {
        expect(Object.keys(metrics[tap]).sort()).toEqual([...METRIC_NAMES, INTEGRATED_LOUDNESS, LOUDNESS_RANGE].sort());
        const gated = metrics[tap][INTEGRATED_LOUDNESS];
        expect(Object.keys(gated).sort()).toEqual(['active_s', 'bucket', 'station']);
        for (const f of ['bucket', 'station']) expect(gated[f] === null || Number.isFinite(gated[f]), `${tap} ${f}`).toBe(true);
        expect(gated.active_s as number).toBeGreaterThanOrEqual(0);
        expect(gated.active_s as number).toBeLessThanOrEqual(5.1);
        expect(Object.keys(metrics[tap][LOUDNESS_RANGE])).toEqual(['station']);
        for (const name of METRIC_NAMES) {
          const agg = metrics[tap][name];
          expect(Object.keys(agg).sort(), `${tap} ${name}`).toEqual(['avg', 'count', 'last', 'max', 'min']);
          expect(Number.isInteger(agg.count) && (agg.count as number) > 0).toBe(true);
          for (const f of ['min', 'max', 'avg', 'last']) expect(Number.isFinite(agg[f]), `${tap} ${name}.${f}`).toBe(true);
          expect(agg.min as number).toBeLessThanOrEqual(agg.avg as number);
          expect(agg.avg as number).toBeLessThanOrEqual(agg.max as number);
        }
      }
      const q = `trace_id=${traceA}&station_key=${b.station_key as string}`;
      expect(b.audio).toEqual({
        PRE: { endpoint: `/api/audio/segment?${q}&tap=PRE&bucket_ts=${b.bucket_ts as string}` },
        POST: { endpoint: `/api/audio/segment?${q}&tap=POST&bucket_ts=${b.bucket_ts as string}` },
      });
      expect(Number.isInteger(b.config_version)).toBe(true);
      expect(b.last_knob_event_id === null || Number.isInteger(b.last_knob_event_id)).toBe(true);
    }
  });

  it('metrics, knobs and audio of one entry describe the same bucket (before and after a scheduled change)', async () => {
    const res = await snapshot(`trace_id=${traceA}&station_key=${A1}&since_bucket_ts=${iso(b0 - 1)}&limit=2`);
    expect(res.status).toBe(200);
    const [e0, e1] = res.json.buckets as Record<string, any>[];
    expect([e0.bucket_ts, e1.bucket_ts]).toEqual([iso(b0), iso(b0 + BUCKET_MS)]);
    const ev = await events(traceA, A1);
    const event = (ev.json.events as { id: number; apply_at_bucket_ts: string }[]).find((e) => e.apply_at_bucket_ts === iso(b0 + BUCKET_MS))!;

    // B0: before the change.
    expect(e0.knobs_snapshot).toEqual(defaultKnobs());
    expect(e0.config_version).toBe(0);
    expect(e0.last_knob_event_id).toBeNull();
    // B1: the change is in force from its first sample.
    expect(e1.knobs_snapshot).toEqual({ ...defaultKnobs(), 'pcm.input_gain_db': 6 });
    expect(e1.config_version).toBe(apply1.res.json.config_version);
    expect(e1.last_knob_event_id).toBe(event.id);

    const audioToken = tokenWith('read:audio');
    const sentRms = A1_PEAK_DBFS + SINE_RMS_OFFSET_DB;
    for (const [entry, gainDb] of [[e0, 0], [e1, 6]] as const) {
      for (const tap of TAPS) {
        const wav = await call(entry.audio[tap].endpoint, { token: audioToken });
        expect(wav.status).toBe(200);
        const audio = readWav(wav.body);
        expect(audio.sampleRate).toBe(RATE);
        expect(audio.samples.length).toBe((RATE * BUCKET_MS) / 1000);
        const rms = measureRmsDbfs(audio.samples);
        const expected = sentRms + (tap === 'POST' ? gainDb : 0);
        expect(Math.abs(rms - expected), `${entry.bucket_ts} ${tap} RMS ${rms}`).toBeLessThan(0.1);
        const metric = entry.metrics[tap]['pcm.rms_dbfs'];
        expect(metric.count).toBe(250); // 5 s of 20 ms frames
        expect(Math.abs(metric.avg - rms), `${entry.bucket_ts} ${tap} metric ${metric.avg} vs WAV ${rms}`).toBeLessThan(0.1);
      }
    }

    // The clamped change on 4444: +40 dB on a -30 dBFS sine clips at full scale in B1 only.
    const other = await snapshot(`trace_id=${traceA}&station_key=${A2}&since_bucket_ts=${iso(b0 - 1)}&limit=2`);
    const [f0, f1] = other.json.buckets as Record<string, any>[];
    expect(f0.knobs_snapshot['pcm.input_gain_db']).toBe(0);
    expect(f0.metrics.POST['pcm.clipping_ratio'].max).toBe(0);
    expect(Math.abs(f0.metrics.POST['pcm.rms_dbfs'].avg - (A2_PEAK_DBFS + SINE_RMS_OFFSET_DB))).toBeLessThan(0.1);
    expect(f1.knobs_snapshot['pcm.input_gain_db']).toBe(40);
    expect(f1.config_version).toBe(1);
    expect(f1.metrics.POST['pcm.clipping_ratio'].avg).toBeGreaterThan(0.1);
    expect(f1.metrics.PRE['pcm.clipping_ratio'].max).toBe(0);
  });

  it('orders entries by bucket_ts ascending, one per (bucket, station), stations in trace order', async () => {
    const res = await snapshot(`trace_id=${traceA}&since_bucket_ts=${iso(0)}&limit=100`);
    expect(res.status).toBe(200);
    const entries = (res.json.buckets as { bucket_ts: string; station_key: string }[]).map((b) => [b.bucket_ts, b.station_key]);
    const sorted = [...entries].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : [A1, A2].indexOf(x[1]) - [A1, A2].indexOf(y[1])));
    expect(entries).toEqual(sorted);
    expect(new Set(entries.map((e) => e.join(' '))).size).toBe(entries.length);
    expect(entries).toContainEqual([iso(b0), A1]);
    expect(entries).toContainEqual([iso(b0), A2]);
    expect(entries).toContainEqual([iso(b0 + BUCKET_MS), A1]);
    expect(entries).toContainEqual([iso(b0 + BUCKET_MS), A2]);
  });

  it('limit N gives the latest N complete buckets; since_bucket_ts gives only those strictly after it', async () => {
    const latest = await quietMoment();
    const two = await snapshot(`trace_id=${traceA}&station_key=${A1}&limit=2`);
    expect(two.status).toBe(200);
    expect((two.json.buckets as { bucket_ts: string }[]).map((b) => b.bucket_ts)).toEqual([iso(latest - BUCKET_MS), iso(latest)]);

    const one = await snapshot(`trace_id=${traceA}&station_key=${A1}`);
    expect((one.json.buckets as { bucket_ts: string }[]).map((b) => b.bucket_ts)).toEqual([iso(latest)]);

    // Strictly after: B0 itself is not included, B1 is first.
    const since = await snapshot(`trace_id=${traceA}&station_key=${A1}&since_bucket_ts=${iso(b0)}&limit=100`);
    const ts = (since.json.buckets as { bucket_ts: string }[]).map((b) => b.bucket_ts);
    expect(ts[0]).toBe(iso(b0 + BUCKET_MS));
    expect(ts.every((x) => Date.parse(x) > b0)).toBe(true);
    expect(ts[ts.length - 1]).toBe(iso(latest));
    const sinceOne = await snapshot(`trace_id=${traceA}&station_key=${A1}&since_bucket_ts=${iso(b0)}&limit=1`);
    expect((sinceOne.json.buckets as { bucket_ts: string }[]).map((b) => b.bucket_ts)).toEqual([iso(b0 + BUCKET_MS)]);
    // Not on a boundary: still strictly after.
    const mid = await snapshot(`trace_id=${traceA}&station_key=${A1}&since_bucket_ts=${iso(b0 + 2500)}&limit=1`);
    expect((mid.json.buckets as { bucket_ts: string }[]).map((b) => b.bucket_ts)).toEqual([iso(b0 + BUCKET_MS)]);
    // After the latest complete bucket: nothing yet (never a bucket in progress).
    const none = await snapshot(`trace_id=${traceA}&since_bucket_ts=${iso(latest)}&limit=100`);
    expect(none.status).toBe(200);
    expect(none.json.buckets).toEqual([]);
  });

  it('station_key keeps one station\'s entries', async () => {
    const res = await snapshot(`trace_id=${traceA}&station_key=${A2}&since_bucket_ts=${iso(0)}&limit=100`);
    expect(res.status).toBe(200);
    const keys = new Set((res.json.buckets as { station_key: string }[]).map((b) => b.station_key));
    expect([...keys]).toEqual([A2]);
    const unknown = await snapshot(`trace_id=${traceA}&station_key=St_nobody&limit=5`);
    expect(unknown.status).toBe(200);
    expect(unknown.json.buckets).toEqual([]);
  });

  // Seed 000 §3 step 2 pulls "the latest completed bucket" with the default limit of 1, §8
  // allows one pull per trace per 5 s, and §5.1's example trace has two stations: so limit
  // counts buckets, and the latest bucket comes with an entry for every station.
  it('limit counts buckets: the default pull gives the latest complete bucket of every station', async () => {
    const latest = await quietMoment();
    const res = await snapshot(`trace_id=${traceA}`);
    expect(res.status).toBe(200);
    expect((res.json.buckets as { bucket_ts: string; station_key: string }[]).map((b) => [b.bucket_ts, b.station_key])).toEqual([
      [iso(latest), A1],
      [iso(latest), A2],
    ]);
    const since = await snapshot(`trace_id=${traceA}&since_bucket_ts=${iso(b0)}&limit=1`);
    expect((since.json.buckets as { bucket_ts: string; station_key: string }[]).map((b) => [b.bucket_ts, b.station_key])).toEqual([
      [iso(b0 + BUCKET_MS), A1],
      [iso(b0 + BUCKET_MS), A2],
    ]);
  });

  it('rejects bad requests: 400 for a missing trace_id, a bad limit or since_bucket_ts; 404 for an unknown trace', async () => {
    expectError(await snapshot(''), 400, 'invalid_request');
    expectError(await snapshot(`since_bucket_ts=${iso(b0)}`), 400, 'invalid_request');
    for (const limit of ['0', '101', 'x', '-1', '1.5']) expectError(await snapshot(`trace_id=${traceA}&limit=${limit}`), 400, 'invalid_request');
    for (const since of ['yesterday', '2026-01-03', '2026-01-03T21:15:00+01:00', '']) {
      expectError(await snapshot(`trace_id=${traceA}&since_bucket_ts=${encodeURIComponent(since)}`), 400, 'invalid_request');
    }
    expectError(await snapshot('trace_id=trace_doesnotexist'), 404, 'trace_not_found');
  });

  it('limits pulls to one per token and trace per 5 s: 429 with Retry-After, other tokens and traces unaffected (§8)', async () => {
    const mine = tokenWith('read:snapshots');
    const first = await call(`/api/optimizer/snapshot?trace_id=${traceA}`, { token: mine });
    expect(first.status).toBe(200);
    const second = await call(`/api/optimizer/snapshot?trace_id=${traceA}`, { token: mine });
    expectError(second, 429, 'rate_limited');
    const retryAfter = second.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(5);
    // Another token on the same trace, and the same token on another trace, are not limited.
    expect((await call(`/api/optimizer/snapshot?trace_id=${traceA}`, { token: tokenWith('read:snapshots') })).status).toBe(200);
    expect((await call(`/api/optimizer/snapshot?trace_id=${traceB}`, { token: mine })).status).toBe(200);
  });
});

describe('GET /api/audio/segment (seed 000 §5.3)', () => {
  const endpoint = (tap = 'PRE', bucketTs = b0): string => `/api/audio/segment?trace_id=${traceA}&station_key=${A1}&tap=${tap}&bucket_ts=${iso(bucketTs)}`;

  it('serves the WAV with the §5.3 headers', async () => {
    const res = await call(endpoint(), { token: tokenWith('read:audio') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('x-sample-rate')).toBe(String(RATE));
    expect(res.headers.get('x-channels')).toBe('1');
    expect(res.headers.get('x-bucket-ms')).toBe('5000');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(res.body.length));
    const wav = readWav(res.body);
    expect(wav.channels).toBe(1);
    expect(wav.sampleRate).toBe(RATE);
    expect(wav.bitsPerSample).toBe(16);
    expect(wav.samples.length).toBe(5 * RATE);
    expect(res.body.length).toBe(44 + 2 * 5 * RATE);
  });

  it('answers Range requests: the header bytes, a suffix, and 416 outside the file', async () => {
    const token = tokenWith('read:audio');
    const full = await call(endpoint(), { token });
    const size = full.body.length;
    const head = await call(endpoint(), { token, headers: { range: 'bytes=0-43' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-43/${size}`);
    expect(head.headers.get('content-type')).toBe('audio/wav');
    expect(head.body.length).toBe(44);
    expect(head.body.equals(full.body.subarray(0, 44))).toBe(true);
    expect(head.body.toString('ascii', 0, 4)).toBe('RIFF');

    const mid = await call(endpoint(), { token, headers: { range: 'bytes=1000-1999' } });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe(`bytes 1000-1999/${size}`);
    expect(mid.body.equals(full.body.subarray(1000, 2000))).toBe(true);

    const tail = await call(endpoint(), { token, headers: { range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 100}-${size - 1}/${size}`);
    expect(tail.body.equals(full.body.subarray(size - 100))).toBe(true);

    const open = await call(endpoint(), { token, headers: { range: `bytes=${size - 10}-` } });
    expect(open.status).toBe(206);
    expect(open.body.equals(full.body.subarray(size - 10))).toBe(true);

    const outside = await call(endpoint(), { token, headers: { range: `bytes=${size}-${size + 10}` } });
    expectError(outside, 416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${size}`);
  });

  it('rejects a bad tap or missing parameters with 400, and an unknown bucket or trace with 404', async () => {
    const token = tokenWith('read:audio');
    expectError(await call(endpoint('MID'), { token }), 400, 'invalid_request');
    expectError(await call(endpoint('pre'), { token }), 400, 'invalid_request');
    const q = { trace_id: traceA, station_key: A1, tap: 'PRE', bucket_ts: iso(b0) };
    for (const missing of Object.keys(q)) {
      const params = new URLSearchParams(Object.entries(q).filter(([k]) => k !== missing));
      expectError(await call(`/api/audio/segment?${params.toString()}`, { token }), 400, 'invalid_request');
    }
    expectError(await call(`/api/audio/segment?trace_id=${traceA}&station_key=${A1}&tap=PRE&bucket_ts=not-a-time`, { token }), 400, 'invalid_request');
    expectError(await call(endpoint('PRE', Date.parse('2020-01-01T00:00:00.000Z')), { token }), 404);
    expectError(await call(endpoint('PRE', b0 + 2500), { token }), 404);
    expectError(await call(`/api/audio/segment?trace_id=${traceA}&station_key=St_nobody&tap=PRE&bucket_ts=${iso(b0)}`, { token }), 404);
    expectError(await call(`/api/audio/segment?trace_id=trace_doesnotexist&station_key=${A1}&tap=PRE&bucket_ts=${iso(b0)}`, { token }), 404);
  });
});

describe('POST /api/optimizer/knobs/apply (seed 000 §5.4, §7, §8)', () => {
  it('accepts a change for the next bucket; a retry gets the same answer; a second change in the bucket is 429', async () => {
    await inBucketWindow(300, 3000);
    const inProgress = bucketOf(Date.now());
    const details = await call(`/api/traces/${traceB}`, { token: tokenWith('read:snapshots') });
    const previous = (details.json.trace.stations as { station_key: string; config_version: number }[]).find((s) => s.station_key === stationB)!.config_version;
    const before = (await events(traceB)).json.events.length as number;
    const body = {
      trace_id: traceB,
      station_key: stationB,
      apply_at_bucket_ts: iso(inProgress + BUCKET_MS),
      idempotency_key: freshKey(),
      source: 'api.test',
      reason: 'next bucket',
      knobs: { 'pcm.input_gain_db': -3, 'limiter.threshold_dbfs': -6, 'limiter.enabled': true },
    };
    const res = await applyKnobs(body);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toEqual({
      success: true,
      accepted: true,
      apply_at_bucket_ts: iso(inProgress + BUCKET_MS),
      config_version: previous + 1,
      effective_knobs: { 'pcm.input_gain_db': -3, 'limiter.threshold_dbfs': -6, 'limiter.enabled': true },
    });
    // The same key and body (keys in another order): the first answer, nothing new.
    const retry = await applyKnobs({ ...body, knobs: { 'limiter.enabled': true, 'limiter.threshold_dbfs': -6, 'pcm.input_gain_db': -3 } });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual(res.json);
    expect((await events(traceB)).json.events.length).toBe(before + 1);

    // A different change for the same station in the same wall-clock bucket.
    const second = await applyKnobs({ ...body, idempotency_key: freshKey(), apply_at_bucket_ts: iso(inProgress + 2 * BUCKET_MS), knobs: { 'pcm.input_gain_db': -6 } });
    expect(bucketOf(Date.now())).toBe(inProgress); // the test's premise: still the same bucket
    expectError(second, 429, 'rate_limited');
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    const wait = Number(second.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(5);
    expect((await events(traceB)).json.events.length).toBe(before + 1);
  });

  it('returns the first answer to a retry that comes after the target bucket has passed, and records nothing new', async () => {
    const before = (await events(traceA)).json.events.length as number;
    expect(Date.now()).toBeGreaterThan(b0 + 2 * BUCKET_MS); // B1 is over
    const retry = await applyKnobs(apply1.body);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual(apply1.res.json);
    expect((await events(traceA)).json.events.length).toBe(before);
  });

  it('refuses the same idempotency_key with a different body: 409 idempotency_conflict', async () => {
    const before = (await events(traceA)).json.events.length as number;
    const next = bucketOf(Date.now()) + 2 * BUCKET_MS;
    expectError(await applyKnobs({ ...apply1.body, knobs: { 'pcm.input_gain_db': 5 } }), 409, 'idempotency_conflict');
    expectError(await applyKnobs({ ...apply1.body, apply_at_bucket_ts: iso(next) }), 409, 'idempotency_conflict');
    expectError(await applyKnobs({ ...apply1.body, reason: 'another reason' }), 409, 'idempotency_conflict');
    expect((await events(traceA)).json.events.length).toBe(before);
  });

  it('refuses a late or misaligned apply_at_bucket_ts: 409 bucket_mismatch (§4: never the bucket in progress)', async () => {
    const base = { trace_id: traceA, station_key: A1, source: 'api.test', knobs: { 'pcm.input_gain_db': 1 } };
    const before = (await events(traceA)).json.events.length as number;
    expectError(await applyKnobs({ ...base, idempotency_key: freshKey(), apply_at_bucket_ts: iso(b0) }), 409, 'bucket_mismatch');
    const inProgress = bucketOf(Date.now());
    expectError(await applyKnobs({ ...base, idempotency_key: freshKey(), apply_at_bucket_ts: iso(inProgress) }), 409, 'bucket_mismatch');
    const future = bucketOf(Date.now()) + 2 * BUCKET_MS;
    expectError(await applyKnobs({ ...base, idempotency_key: freshKey(), apply_at_bucket_ts: iso(future + 2500) }), 409, 'bucket_mismatch');
    expectError(await applyKnobs({ ...base, idempotency_key: freshKey(), apply_at_bucket_ts: iso(future + 1) }), 409, 'bucket_mismatch');
    expect((await events(traceA)).json.events.length).toBe(before);
  });

  it('rejects unknown knobs, wrong value types and missing fields with 400', async () => {
    const next = bucketOf(Date.now()) + 2 * BUCKET_MS;
    const valid = { trace_id: traceA, station_key: A2, apply_at_bucket_ts: iso(next), source: 'api.test', reason: 'r', knobs: { 'pcm.input_gain_db': 1 } };
    const before = (await events(traceA)).json.events.length as number;
    expectError(await applyKnobs({ ...valid, idempotency_key: freshKey(), knobs: { 'pcm.nonsense': 1 } }), 400, 'unknown_knob');
    expectError(await applyKnobs({ ...valid, idempotency_key: freshKey(), knobs: { 'pcm.input_gain_db': 1, 'eq.bass_db': 3 } }), 400, 'unknown_knob');
    for (const knobs of [{ 'pcm.input_gain_db': 'loud' }, { 'pcm.input_gain_db': true }, { 'compressor.enabled': 1 }, { 'pcm.input_gain_db': [1] }, {}]) {
      expectError(await applyKnobs({ ...valid, idempotency_key: freshKey(), knobs }), 400, 'invalid_request');
    }
    expectError(await applyKnobs({ ...valid, idempotency_key: freshKey(), knobs: 'loud' }), 400, 'invalid_request');
    for (const field of ['trace_id', 'station_key', 'apply_at_bucket_ts', 'idempotency_key', 'knobs']) {
      const body: Record<string, unknown> = { ...valid, idempotency_key: freshKey() };
      delete body[field];
      expectError(await applyKnobs(body), 400, 'invalid_request');
    }
    expectError(await applyKnobs({ ...valid, idempotency_key: freshKey(), apply_at_bucket_ts: 'soon' }), 400, 'invalid_request');
    const res = await call('/api/optimizer/knobs/apply', { token: tokenWith('write:knobs'), method: 'POST', body: undefined, headers: { 'content-type': 'application/json' } });
    expectError(res, 400);
    const notJson = await fetch(`${t.httpUrl}/api/optimizer/knobs/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenWith('write:knobs')}`, 'content-type': 'application/json' },
      body: '{"trace_id":',
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ success: false, error: { code: expect.any(String), message: expect.any(String) } });
    expect((await events(traceA)).json.events.length).toBe(before);
  });

  // Each case on a station of its own, so that one wrongly accepted change cannot turn the
  // next case into a 429 (one apply per station per bucket).
  it('rejects values of the wrong JSON type instead of coercing them (null, "6", "true")', async () => {
    const next = bucketOf(Date.now()) + 2 * BUCKET_MS;
    const before = (await events(traceD)).json.events.length as number;
    const cases: [string, Record<string, unknown>][] = [
      [spareD[0], { 'pcm.input_gain_db': null }],
      [spareD[1], { 'pcm.input_gain_db': '6' }],
      [spareD[2], { 'compressor.enabled': 'true' }],
    ];
    for (const [station, knobs] of cases) {
      const res = await applyKnobs({ trace_id: traceD, station_key: station, apply_at_bucket_ts: iso(next), idempotency_key: freshKey(), knobs });
      expect.soft([res.status, res.json?.error?.code], `${JSON.stringify(knobs)} -> ${res.body.toString('utf8')}`).toEqual([400, 'invalid_request']);
    }
    expect((await events(traceD)).json.events.length).toBe(before);
  });

  it('answers 404 for an unknown trace or station, 409 station_not_live for an ended station', async () => {
    const next = bucketOf(Date.now()) + 2 * BUCKET_MS;
    const base = { apply_at_bucket_ts: iso(next), knobs: { 'pcm.input_gain_db': 1 } };
    expectError(await applyKnobs({ ...base, trace_id: 'trace_doesnotexist', station_key: A1, idempotency_key: freshKey() }), 404, 'trace_not_found');
    expectError(await applyKnobs({ ...base, trace_id: traceA, station_key: 'St_nobody', idempotency_key: freshKey() }), 404, 'station_not_found');
    expectError(await applyKnobs({ ...base, trace_id: traceC, station_key: stationC, idempotency_key: freshKey() }), 409, 'station_not_live');
  });
});

describe('GET /api/optimizer/events', () => {
  it('stores each accepted change with its source and reason', async () => {
    const res = await events(traceA);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ success: true, trace_id: traceA });
    const list = res.json.events as Record<string, unknown>[];
    for (const e of list) {
      for (const f of ['id', 'created_at', 'apply_at_bucket_ts', 'station_key', 'knobs_requested', 'knobs_effective', 'source', 'reason', 'config_version']) {
        expect(e, f).toHaveProperty(f);
      }
      expect(Number.isInteger(e.id)).toBe(true);
      expect(e.created_at).toMatch(ISO_MS);
      expect(e.apply_at_bucket_ts).toMatch(ISO_MS);
      expect(Date.parse(e.created_at as string)).toBeLessThan(Date.parse(e.apply_at_bucket_ts as string));
    }
    const first = list.find((e) => e.station_key === A1 && e.apply_at_bucket_ts === iso(b0 + BUCKET_MS))!;
    expect(first).toMatchObject({
      apply_at_bucket_ts: iso(b0 + BUCKET_MS),
      knobs_requested: { 'pcm.input_gain_db': 6 },
      knobs_effective: { 'pcm.input_gain_db': 6 },
      source: 'auto_optimizer',
      reason: 'raise the level by 6 dB',
      config_version: 1,
    });
    expect(Date.parse(first.created_at as string)).toBeGreaterThanOrEqual(b0);
    expect(Date.parse(first.created_at as string)).toBeLessThan(b0 + BUCKET_MS);
    // The station filter.
    const only = await events(traceA, A2);
    expect((only.json.events as { station_key: string }[]).every((e) => e.station_key === A2)).toBe(true);
    expect(only.json.events.length).toBeGreaterThanOrEqual(1);
    expectError(await events('trace_doesnotexist'), 404, 'trace_not_found');
    expectError(await call('/api/optimizer/events', { token: tokenWith('read:snapshots') }), 400, 'invalid_request');
  });

  it('keeps the knobs as requested apart from the knobs in effect (99 requested, 40 effective)', async () => {
    const res = await events(traceA, A2);
    const clamped = (res.json.events as Record<string, unknown>[]).find((e) => e.apply_at_bucket_ts === iso(b0 + BUCKET_MS))!;
    expect(clamped).toMatchObject({
      knobs_effective: { 'pcm.input_gain_db': 40 },
      source: 'api.test',
      reason: 'a gain beyond the range is clamped',
      config_version: 1,
    });
    expect(clamped.knobs_requested).toEqual({ 'pcm.input_gain_db': 99 });
  });
});

describe('GET /api/traces/:trace_id', () => {
  it('describes a live trace: stations, bucket range, not ended', async () => {
    const latest = await quietMoment();
    const res = await call(`/api/traces/${traceA}`, { token: tokenWith('read:snapshots') });
    expect(res.status).toBe(200);
    const trace = res.json.trace;
    expect(trace).toMatchObject({ trace_id: traceA, active: true, ended_at: null, last_bucket_ts: iso(latest) });
    expect(trace.started_at).toMatch(ISO_MS);
    expect(Date.parse(trace.first_bucket_ts)).toBeLessThanOrEqual(b0);
    expect(trace.stations.map((s: { station_key: string }) => s.station_key)).toEqual([A1, A2]);
    for (const s of trace.stations) {
      expect(s).toMatchObject({ live: true, ended_at: null, last_bucket_ts: iso(latest), sample_rate: RATE });
      expect(Date.parse(s.first_bucket_ts)).toBeLessThanOrEqual(b0);
    }
    expect(trace.stations[0].label).toBe('3333');
    expect(trace.stations[1].label).toBe('4444');
    // The bucket count agrees with the snapshot.
    const all = await snapshot(`trace_id=${traceA}&since_bucket_ts=${iso(0)}&limit=100`);
    expect(trace.bucket_count).toBe(all.json.buckets.length);
    expect(trace.first_bucket_ts).toBe(all.json.buckets[0].bucket_ts);
  });

  it('describes an ended trace with its ended_at and bucket range; an unknown trace is 404', async () => {
    const res = await call(`/api/traces/${traceC}`, { token: tokenWith('read:snapshots') });
    expect(res.status).toBe(200);
    const trace = res.json.trace;
    expect(trace).toMatchObject({ trace_id: traceC, active: false });
    expect(trace.ended_at).toMatch(ISO_MS);
    expect(Date.parse(trace.ended_at)).toBeGreaterThanOrEqual(Date.parse(trace.started_at));
    expect(trace.last_bucket_ts).toBe(iso(b0));
    expect(trace.bucket_count).toBeGreaterThanOrEqual(1);
    expect(trace.stations).toHaveLength(1);
    expect(trace.stations[0]).toMatchObject({ station_key: stationC, label: 'gone', live: false, last_bucket_ts: iso(b0) });
    expect(trace.stations[0].ended_at).toMatch(ISO_MS);
    expectError(await call('/api/traces/trace_doesnotexist', { token: tokenWith('read:snapshots') }), 404, 'trace_not_found');
  });
});

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3 document of every /api route, generated from the route schemas', async () => {
    const res = await call('/api/openapi.json', { token: tokenWith('read:snapshots') });
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(typeof doc.info?.title).toBe('string');
    expect(typeof doc.info?.version).toBe('string');
    expect(typeof doc.paths).toBe('object');

    const expected: Record<string, string[]> = {
      '/api/traces/active': ['get'],
      '/api/optimizer/snapshot': ['get'],
      '/api/audio/segment': ['get'],
      '/api/optimizer/knobs/apply': ['post'],
      '/api/optimizer/events': ['get'],
      '/api/traces/{trace_id}': ['get'],
      '/api/optimizer/knobs': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(doc.paths, path).toHaveProperty([path]);
      for (const m of methods) expect(doc.paths[path], `${m} ${path}`).toHaveProperty(m);
    }

    // Structurally valid: every operation has responses, parameters are well formed, path
    // parameters are declared and required, and every $ref resolves.
    const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      expect(path.startsWith('/')).toBe(true);
      for (const [method, op] of Object.entries(item)) {
        expect(METHODS, `${path} ${method}`).toContain(method);
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
        for (const [status, r] of Object.entries(op.responses as Record<string, { description?: unknown }>)) {
          expect(status === 'default' || /^[1-5](\d\d|XX)$/.test(status), `${path} ${status}`).toBe(true);
          expect(typeof r.description, `${method} ${path} ${status} description`).toBe('string');
        }
        const params = (op.parameters ?? []) as { name: string; in: string; required?: boolean; schema?: unknown }[];
        for (const p of params) {
          expect(['query', 'path', 'header', 'cookie']).toContain(p.in);
          expect(typeof p.name).toBe('string');
          expect(p.schema).toBeDefined();
          if (p.in === 'path') expect(p.required).toBe(true);
        }
        for (const m of path.matchAll(/\{([^}]+)\}/g)) expect(params.some((p) => p.in === 'path' && p.name === m[1]), `${path} declares ${m[1]}`).toBe(true);
      }
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const pointer = ref.slice(8, -1);
      expect(pointer.startsWith('#/')).toBe(true);
      let node = doc;
      for (const part of pointer.slice(2).split('/')) node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      expect(node, pointer).toBeDefined();
    }

    // Generated from the schemas that validate requests.
    const snap = doc.paths['/api/optimizer/snapshot'].get;
    const byName = Object.fromEntries((snap.parameters as { name: string }[]).map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['limit', 'since_bucket_ts', 'station_key', 'trace_id']);
    expect(byName.trace_id).toMatchObject({ in: 'query', required: true });
    expect(byName.limit).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 1 } });
    const seg = doc.paths['/api/audio/segment'].get;
    const tap = (seg.parameters as { name: string; schema: { enum?: string[] } }[]).find((p) => p.name === 'tap');
    expect(tap?.schema.enum).toEqual(['PRE', 'POST']);
    const apply = doc.paths['/api/optimizer/knobs/apply'].post;
    const bodySchema = apply.requestBody.content['application/json'].schema;
    expect([...bodySchema.required].sort()).toEqual(['apply_at_bucket_ts', 'idempotency_key', 'knobs', 'station_key', 'trace_id']);
    expect(Object.keys(bodySchema.properties).sort()).toEqual(['apply_at_bucket_ts', 'idempotency_key', 'knobs', 'reason', 'source', 'station_key', 'trace_id']);
    for (const status of ['400', '404', '409', '429']) expect(apply.responses, `apply ${status}`).toHaveProperty(status);
    // The bearer scheme of §9.
    expect(JSON.stringify(doc.components?.securitySchemes ?? {})).toContain('bearer');
  });
});
