/**
 * EBU R 128 through a real relay: the conformance signals of EBU Tech 3341 (loudness, true
 * peak) and EBU Tech 3342 (loudness range), generated from their definitions
 * (worklets/dsp/ebu-signals.ts), each case's left channel sent as a mono station and read
 * back where clients read it: the bucket rows of the snapshot API and the meters of
 * `/ws/telemetry`. A station is metered as one channel, so a loudness is the document's
 * less 3.01 LU (both channels of these cases are equal); ranges and true peaks are the
 * document's. Tolerances are the documents': ±0.1 LU for M, S and I, ±1 LU for LRA,
 * +0.2 / -0.4 dB for true peak.
 *
 * How each signal travels, to keep the whole under a minute:
 * - bucket rows of the long signals (15-100 s): uploads, which the relay runs at once at
 *   their capture times. Uploads are Opus: at 128 kbit/s it moves these tones' loudness by
 *   less than 0.02 LU (checked when this test was written);
 * - telemetry of the long signals: live PCM16 stations sent as fast as the socket takes
 *   them, on a relay whose jitter allowance lets a station run two minutes ahead of the wall
 *   clock; each stays connected until its meters stop moving, then its integrated loudness
 *   and range are read;
 * - short-term loudness over time: live PCM16 at real time, every reading from 3.5 s on;
 * - true peak: live PCM16 at real time, in telemetry and in the bucket rows (a lossy codec
 *   moves inter-sample peaks; case 19's samples beyond full scale do not fit 16-bit PCM);
 * - silence: digital zeros, whose gated loudness is null in both, never -Infinity or NaN.
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { SnapshotResponse, type SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import type { MeasurementMessage, StationMeters, TapMeters } from '../../../protocol/telemetry.ts';
import { ebuCase, type EbuExpectation, type EbuMeasure, type EbuSignal } from '../../../worklets/dsp/ebu-signals.ts';
import { newStreamId } from '../ids.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { chunkOf, createBody, uploadClient } from '../testing/upload-client.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';

const RATE = 48000;
const BUCKET_MS = 5000;
const OPUS_BITRATE = 128_000;
const CHUNK_PACKETS = 2000;
const TAPS = ['PRE', 'POST'] as const;
const iso = (ms: number): string => new Date(ms).toISOString();

let t: TestRelay;
let up: ReturnType<typeof uploadClient>;
const validateSnapshot = new Ajv({ allowUnionTypes: true, coerceTypes: false, removeAdditional: false }).compile(SnapshotResponse);

// What the checks compare: case → where → measure → measured against expected (printed at the end).
const report: string[] = [];

const signals = new Map<string, EbuSignal>();
function signal(id: string): EbuSignal {
  let s = signals.get(id);
  if (s === undefined) signals.set(id, (s = ebuCase(id).generate(RATE)));
  return s;
}

/** The case's expectation for `measure`, for its left channel metered alone. */
function expectation(id: string, measure: EbuMeasure): EbuExpectation & { mono: number } {
  const e = signal(id).expectations.find((x) => x.measure === measure);
  if (e === undefined || e.monoValue === null) throw new Error(`${id} states no mono ${measure}`);
  return { ...e, mono: e.monoValue };
}

/** Checks a reading against an expectation's tolerance, and notes it for the report. */
function expectWithin(id: string, where: string, measure: EbuMeasure, measured: number | null | undefined, e: { mono: number; below: number; above: number }): void {
  report.push(`${id.padEnd(11)} ${where.padEnd(34)} ${measure.padEnd(3)} ${measured == null ? String(measured) : measured.toFixed(2)} (expected ${e.mono.toFixed(2)} -${e.below}/+${e.above})`);
  expect(measured, `${id} ${where} ${measure}`).not.toBeNull();
  expect(measured as number, `${id} ${where} ${measure}`).toBeGreaterThanOrEqual(e.mono - e.below - 1e-9);
  expect(measured as number, `${id} ${where} ${measure}`).toBeLessThanOrEqual(e.mono + e.above + 1e-9);
}

/** A loudness the documents state for a steady 1 kHz sine of `peakDbfs` in both channels (Tech 3341 cases 1 and 2: it reads its level), for one channel. */
const steadyTone = (peakDbfs: number): { mono: number; below: number; above: number } => ({ mono: peakDbfs - 10 * Math.log10(2), below: 0.1, above: 0.1 });

// ---------------------------------------------------------------------------------------
// Telemetry: every measurement, by station key.

interface Reading {
  atMs: number;
  m: StationMeters;
}
const readings = new Map<string, Reading[]>();
let telemetry: WebSocket;
let badTexts = 0;

function subscribe(): Promise<void> {
  telemetry = new WebSocket(`${t.httpUrl.replace('http', 'ws')}/ws/telemetry`, { perMessageDeflate: false });
  telemetry.on('message', (data) => {
    const text = data.toString();
    if (/NaN|Infinity/.test(text)) badTexts++;
    const msg = JSON.parse(text) as MeasurementMessage | { type: 'spectrum' };
    if (msg.type !== 'measurement') return;
    const atMs = performance.now();
    for (const [key, m] of Object.entries(msg.data.stations)) {
      let list = readings.get(key);
      if (list === undefined) readings.set(key, (list = []));
      list.push({ atMs, m });
    }
  });
  return new Promise((resolve, reject) => {
    telemetry.once('open', () => resolve());
    telemetry.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------
// Uploads: bucket rows of the long signals.

interface Uploaded {
  traceId: string;
  startedAt: number;
  entries: SnapshotEntry[];
}
const uploaded = new Map<string, Uploaded>();

/** Uploads Opus `packets` as one part starting at `startedAt` (a bucket boundary), and reads its buckets. */
async function upload(id: string, packets: Uint8Array[], startedAt: number): Promise<void> {
  const created = await up.create(id, createBody(startedAt, id));
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  for (let first = 0; first < packets.length; first += CHUNK_PACKETS) {
    const r = await up.chunk(id, first, chunkOf(packets.slice(first, first + CHUNK_PACKETS), first));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
  const part = await up.part(id, 0, packets.length);
  expect(part.status, JSON.stringify(part.json)).toBe(200);
  const traceId = part.json.trace_id as string;
  uploaded.set(id, { traceId, startedAt, entries: await snapshot(traceId, startedAt) });
}

/** Every bucket of a trace from `fromMs` on, through the snapshot API, checked against its schema. */
async function snapshot(traceId: string, fromMs: number): Promise<SnapshotEntry[]> {
  const r = await up.get(`/api/optimizer/snapshot?trace_id=${traceId}&since_bucket_ts=${iso(fromMs - BUCKET_MS)}&limit=100`);
  expect(r.status, r.body.toString()).toBe(200);
  expect(r.body.toString()).not.toMatch(/NaN|Infinity/);
  expect(validateSnapshot(r.json), JSON.stringify(validateSnapshot.errors)).toBe(true);
  return r.json.buckets as SnapshotEntry[];
}

const UPLOADS = ['tech3341-1', 'tech3341-2', 'tech3341-3', 'tech3341-4', 'tech3341-5', 'tech3341-9', 'tech3342-1', 'tech3342-2', 'tech3342-3', 'tech3342-4'];

// ---------------------------------------------------------------------------------------
// Live stations.

/** A live station that sends everything as fast as the socket takes it and stays connected until released. */
class HeldStation extends SimulatedStation {
  private held = true;
  override stop(): void {
    if (!this.held) super.stop();
  }
  release(): void {
    this.held = false;
    this.stop();
  }
}

const pcm = (audio: Float32Array): ReturnType<typeof encodeAudio> => encodeAudio(audio, RATE, 'pcm16');
const FAST = ['tech3341-3', 'tech3341-5', 'tech3341-9', 'tech3342-1', 'tech3342-3'];
const REAL_TIME = 'tech3341-1';
const TRUE_PEAK = ['tech3341-15', 'tech3341-16', 'tech3341-17', 'tech3341-18'];
const SILENCE_S = 2;
const key = (id: string, how: string): string => `${how}-${id}`;

/** The final meters of a fast station, once they stopped moving. */
const settled = new Map<string, StationMeters>();
/** Buckets of the live stations, by key. */
const liveBuckets = new Map<string, SnapshotEntry[]>();

/** Sends a whole signal at once, waits until the relay has it all and the station's meters stand still, and keeps them. */
async function sendFast(id: string): Promise<void> {
  const audio = pcm(signal(id).channels[0]);
  const s = new HeldStation({ url: t.wsUrl, audio, stationKey: key(id, 'fast'), speed: 10_000 });
  await s.connect();
  while (s.pump(performance.now())) await sleep(5);
  const k = key(id, 'fast');
  await waitFor(() => {
    const mine = t.relay.stats().stations.find((x) => x.station_key === k);
    return mine?.frames_received === audio.packets.length && mine.queue_depth === 0 ? true : undefined;
  }, 20_000, `${k} received`);
  // Stood still: the same loudness over the last second of readings.
  const still = await waitFor(() => {
    const list = readings.get(k) ?? [];
    const last = list.at(-1);
    if (last === undefined || last.atMs - list[0].atMs < 1000) return undefined;
    const recent = list.filter((r) => r.atMs >= last.atMs - 1000);
    const same = (a: TapMeters, b: TapMeters): boolean =>
      a.short_term_lufs === b.short_term_lufs && a.integrated_lufs === b.integrated_lufs && a.range_lu === b.range_lu && a.momentary_lufs === b.momentary_lufs;
    return recent.length >= 10 && recent.every((r) => same(r.m.PRE, last.m.PRE) && same(r.m.POST, last.m.POST)) ? last.m : undefined;
  }, 20_000, `${k} meters to settle`);
  settled.set(id, still);
  s.release();
}

/** Streams at real time; once they are done, waits for the buckets of their audio to be complete and reads those of `keep`. */
async function sendRealTime(stations: SimulatedStation[], keep: (stationKey: string) => boolean): Promise<void> {
  const started = await Promise.all(stations.map((s) => s.connect()));
  const fromMs = bucketStartMs(Date.now(), BUCKET_MS);
  await runStations(stations);
  // Complete: the wall clock past the end of the bucket of their last audio, plus the grace (1 s).
  await sleep(bucketStartMs(Date.now(), BUCKET_MS) + BUCKET_MS + 1000 + 500 - Date.now());
  for (const [i, s] of stations.entries()) {
    const k = s.opts.stationKey as string;
    if (keep(k)) liveBuckets.set(k, await snapshot(started[i].trace_id, fromMs));
  }
}

// ---------------------------------------------------------------------------------------

beforeAll(async () => {
  t = await startTestRelay({ snapshotMinIntervalMs: 0, jitterAllowanceMs: 120_000, ingressQueueFrames: 8192 });
  up = uploadClient(t.httpUrl, t.relay.adminToken);
  await subscribe();
  const startedAt = bucketStartMs(Date.now() - 15 * 60_000, BUCKET_MS);
  // Everything encoded first: seconds of encoding while stations stream would hold up this
  // process's sending and reading.
  const opus = UPLOADS.map((id) => encodeAudio(signal(id).channels[0], RATE, 'opus', 20, OPUS_BITRATE).packets);
  const realTime = [
    new SimulatedStation({ url: t.wsUrl, audio: pcm(signal(REAL_TIME).channels[0]), stationKey: key(REAL_TIME, 'live') }),
    ...TRUE_PEAK.map((id) => new SimulatedStation({ url: t.wsUrl, audio: pcm(signal(id).channels[0]), stationKey: key(id, 'live') })),
    new SimulatedStation({ url: t.wsUrl, audio: pcm(new Float32Array(SILENCE_S * RATE)), stationKey: 'live-silence' }),
  ];
  await Promise.all([
    // Case 1's buckets are checked in its upload's.
    sendRealTime(realTime, (k) => k !== key(REAL_TIME, 'live')),
    (async () => {
      for (const id of FAST) await sendFast(id);
    })(),
    Promise.all(UPLOADS.map((id, i) => upload(id, opus[i], startedAt))),
  ]);
}, 120_000);

afterAll(async () => {
  telemetry?.close();
  await t?.close();
  console.log(`EBU R 128 readings (mono: the document's loudness less 3.01 LU):\n${report.join('\n')}`);
});

/** The entry whose bucket starts `s` seconds after the capture started. */
function at(u: Uploaded, s: number): SnapshotEntry {
  const e = u.entries.find((x) => Date.parse(x.bucket_ts) === u.startedAt + s * 1000);
  if (e === undefined) throw new Error(`no bucket at ${s} s (have ${u.entries.map((x) => (Date.parse(x.bucket_ts) - u.startedAt) / 1000).join(', ')})`);
  return e;
}

describe('bucket rows (uploads, Opus)', () => {
  it('give each case\'s integrated loudness as the station\'s in its last bucket (Tech 3341 cases 1-5)', () => {
    for (const id of ['tech3341-1', 'tech3341-2', 'tech3341-3', 'tech3341-4', 'tech3341-5']) {
      const u = uploaded.get(id)!;
      const last = u.entries.at(-1)!;
      const seconds = signal(id).channels[0].length / RATE;
      expect(Date.parse(last.bucket_ts), id).toBe(u.startedAt + Math.floor((seconds - 1e-9) / 5) * BUCKET_MS);
      for (const tap of TAPS) expectWithin(id, `last bucket ${tap} station`, 'I', last.metrics[tap]['loudness.integrated_lufs']?.station, expectation(id, 'I'));
    }
  });

  it('gate each bucket over its own audio: a steady tone reads its level, a -72 dBFS one nothing (Tech 3341 cases 1, 3, 4)', () => {
    const one = uploaded.get('tech3341-1')!;
    for (const s of [0, 5, 10, 15]) {
      for (const tap of TAPS) {
        const g = at(one, s).metrics[tap]['loudness.integrated_lufs']!;
        expectWithin('tech3341-1', `bucket +${s}s ${tap} bucket`, 'I', g.bucket, expectation('tech3341-1', 'I'));
        expectWithin('tech3341-1', `bucket +${s}s ${tap} station`, 'I', g.station, expectation('tech3341-1', 'I'));
      }
    }
    // Case 3: -36 dBFS for 10 s, -23 for 60 s, -36 for 10 s.
    const three = uploaded.get('tech3341-3')!;
    for (const s of [0, 5, 75]) expectWithin('tech3341-3', `bucket +${s}s PRE bucket`, 'I', at(three, s).metrics.PRE['loudness.integrated_lufs']!.bucket, steadyTone(-36));
    for (let s = 15; s <= 65; s += 5) expectWithin('tech3341-3', `bucket +${s}s PRE bucket`, 'I', at(three, s).metrics.PRE['loudness.integrated_lufs']!.bucket, steadyTone(-23));
    // Active time: each of a bucket's 50 blocks that the station's relative gate keeps. In
    // the middle every block counts; in the last bucket none (the -36 dBFS parts are what
    // the relative gate removes: case 3's point); in the first the station is the -36 tone
    // itself, so all of its 47 blocks (the first ends at 0.4 s) count.
    for (let s = 15; s <= 65; s += 5) expect(at(three, s).metrics.POST['loudness.integrated_lufs']!.active_s, `+${s}s`).toBe(5);
    expect(at(three, 75).metrics.POST['loudness.integrated_lufs']!.active_s).toBe(0);
    expect(at(three, 0).metrics.POST['loudness.integrated_lufs']!.active_s).toBe(4.7);
    // Case 4: its first 10 s are at -72 dBFS, below the absolute gate even as a stereo pair.
    const four = uploaded.get('tech3341-4')!;
    for (const s of [0, 5]) {
      for (const tap of TAPS) expect(at(four, s).metrics[tap]['loudness.integrated_lufs'], `+${s}s ${tap}`).toEqual({ bucket: null, station: null, active_s: 0 });
      expect(at(four, s).metrics.PRE['loudness.range_lu']).toEqual({ station: null });
    }
  });

  it('give each case\'s loudness range as the station\'s in its last bucket (Tech 3342 cases 1-4)', () => {
    for (const id of ['tech3342-1', 'tech3342-2', 'tech3342-3', 'tech3342-4']) {
      const last = uploaded.get(id)!.entries.at(-1)!;
      for (const tap of TAPS) expectWithin(id, `last bucket ${tap} station`, 'LRA', last.metrics[tap]['loudness.range_lu']?.station, expectation(id, 'LRA'));
    }
  });

  it('aggregate short-term loudness per frame: within the tolerance in every bucket after 3 s (Tech 3341 cases 1 and 9)', () => {
    for (const [id, from] of [['tech3341-1', 5], ['tech3341-9', 5]] as const) {
      const u = uploaded.get(id)!;
      for (const e of u.entries.filter((x) => Date.parse(x.bucket_ts) >= u.startedAt + from * 1000)) {
        const s = e.metrics.PRE['loudness.short_term_lufs']!;
        const where = `bucket +${(Date.parse(e.bucket_ts) - u.startedAt) / 1000}s PRE`;
        expect(s.count, where).toBeGreaterThan(0);
        expectWithin(id, `${where} min`, 'S', s.min, expectation(id, 'S'));
        expectWithin(id, `${where} max`, 'S', s.max, expectation(id, 'S'));
      }
    }
  });
});

describe('telemetry (live PCM16)', () => {
  it('gives loudness as of the end of each signal: integrated, short-term and range (Tech 3341 cases 3, 5, 9; Tech 3342 cases 1, 3)', () => {
    for (const id of FAST) {
      const m = settled.get(id)!;
      for (const e of signal(id).expectations) {
        const value = (tap: (typeof TAPS)[number]): number | null =>
          e.measure === 'I' ? m[tap].integrated_lufs : e.measure === 'LRA' ? m[tap].range_lu : e.measure === 'S' ? m[tap].short_term_lufs : NaN;
        for (const tap of TAPS) expectWithin(id, `telemetry ${tap} end`, e.measure, value(tap), expectation(id, e.measure));
      }
    }
  });

  it('gives short-term loudness within the tolerance at every reading from 3.5 s on, and the integrated loudness at the end (Tech 3341 case 1)', () => {
    const id = REAL_TIME;
    const list = readings.get(key(id, 'live')) ?? [];
    const first = list.find((r) => r.m.PRE.momentary_lufs > -120);
    expect(first, id).toBeDefined();
    // The document's "from 3 s", counted from the first reading with audio. A reading can
    // lag its audio on a busy machine; the tone is steady, so a lagging one reads the same.
    const window = list.filter((r) => r.atMs >= first!.atMs + 3500);
    expect(window.length, `${id}: readings from 3.5 s on`).toBeGreaterThan(50);
    const s = expectation(id, 'S');
    for (const tap of TAPS) {
      const values = window.map((r) => r.m[tap].short_term_lufs);
      const worst = values.reduce((w, v) => (Math.abs(v - s.mono) > Math.abs(w - s.mono) ? v : w));
      expectWithin(id, `telemetry ${tap} worst of ${values.length}`, 'S', worst, s);
      expectWithin(id, `telemetry ${tap} end`, 'I', list.at(-1)!.m[tap].integrated_lufs, expectation(id, 'I'));
    }
  });

  it('gives the true peak of each interval: the largest is the case\'s (Tech 3341 cases 15-18)', () => {
    for (const id of TRUE_PEAK) {
      const list = readings.get(key(id, 'live')) ?? [];
      for (const tap of TAPS) {
        const max = Math.max(...list.map((r) => r.m[tap].true_peak_dbtp));
        expectWithin(id, `telemetry ${tap} max`, 'TP', max, expectation(id, 'TP'));
      }
    }
  });

  it('reads silence as null loudness and the floors, never NaN or Infinity', () => {
    const list = readings.get('live-silence') ?? [];
    expect(list.length).toBeGreaterThan(3);
    for (const r of list) {
      for (const tap of TAPS) {
        expect(r.m[tap]).toMatchObject({ integrated_lufs: null, range_lu: null, short_term_lufs: -120, momentary_lufs: -120, true_peak_dbtp: -120 });
      }
    }
    expect(badTexts).toBe(0);
  });
});

describe('bucket rows (live PCM16)', () => {
  it('give a bucket\'s true peak as the max of its frames\' (Tech 3341 cases 15-18)', () => {
    for (const id of TRUE_PEAK) {
      const entries = liveBuckets.get(key(id, 'live'))!;
      for (const tap of TAPS) {
        const max = Math.max(...entries.map((e) => e.metrics[tap]['pcm.true_peak_dbtp']!.max));
        expectWithin(id, `buckets ${tap} max`, 'TP', max, expectation(id, 'TP'));
      }
    }
  });

  it('read silence as null gated loudness, 0 s active and -120 dBTP', () => {
    const entries = liveBuckets.get('live-silence')!;
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      for (const tap of TAPS) {
        expect(e.metrics[tap]['loudness.integrated_lufs']).toEqual({ bucket: null, station: null, active_s: 0 });
        expect(e.metrics[tap]['loudness.range_lu']).toEqual({ station: null });
        expect(e.metrics[tap]['pcm.true_peak_dbtp']).toMatchObject({ min: -120, max: -120 });
        expect(e.metrics[tap]['loudness.short_term_lufs']).toMatchObject({ max: -120 });
      }
    }
  });
});

describe('a recorded bucket two parts share', () => {
  it('is gated over both parts\' blocks: a -40 dBFS part after a -20 dBFS one does not pull it down', async () => {
    const b = bucketStartMs(Date.now() - 10 * 60_000, BUCKET_MS);
    const startedAt = b + 500;
    const tone = (peakDbfs: number, seconds: number): Uint8Array[] => {
      const x = new Float32Array(seconds * RATE);
      const a = 10 ** (peakDbfs / 20);
      for (let i = 0; i < x.length; i++) x[i] = a * Math.sin((2 * Math.PI * 1000 * i) / RATE);
      return encodeAudio(x, RATE, 'opus', 20, OPUS_BITRATE).packets;
    };
    expect((await up.create('ebu-merge', createBody(startedAt, 'ebu-merge'))).status).toBe(201);
    expect((await up.chunk('ebu-merge', 0, chunkOf(tone(-20, 2), 0))).status).toBe(200); // 0.5 s to 2.5 s
    expect((await up.chunk('ebu-merge', 150, chunkOf(tone(-40, 1), 150))).status).toBe(200); // 3.5 s to 4.5 s
    expect((await up.part('ebu-merge', 0, 100)).status).toBe(200);
    const p = await up.part('ebu-merge', 150, 200);
    expect(p.status, JSON.stringify(p.json)).toBe(200);
    const [entry] = await snapshot(p.json.trace_id as string, b);
    expect(Date.parse(entry.bucket_ts)).toBe(b);
    for (const tap of TAPS) {
      const g = entry.metrics[tap]['loudness.integrated_lufs']!;
      // Over the union, the -43 LUFS blocks fall more than 10 LU below the rest (as the -36
      // dBFS parts of Tech 3341 case 3 do): the bucket reads the -20 dBFS tone alone.
      expectWithin('merge', `bucket ${tap} bucket`, 'I', g.bucket, steadyTone(-20));
      // The station values are the later part's, which is a station of its own: the -40 tone.
      expectWithin('merge', `bucket ${tap} station`, 'I', g.station, steadyTone(-40));
      // Against that station every block of both parts counts: 17 of the first (2 s) and 7 of the second (1 s).
      expect(g.active_s).toBe(2.4);
    }
  });
});

describe('buckets stored before loudness and true peak were measured', () => {
  it('are answered without those entries (absent, not zero), and the answer fits the schema', async () => {
    const store = t.relay.store;
    const ts = bucketStartMs(Date.now() - 20 * 60_000, BUCKET_MS);
    store.insertTrace({ trace_id: 'trace_before_r128', kind: 'recorded', started_at: ts, ended_at: ts + BUCKET_MS, call_id: null });
    store.insertStation({ trace_id: 'trace_before_r128', station_key: 'old', label: null, codec: 'opus', sample_rate: RATE, stream_id: newStreamId(), started_at: ts, ended_at: ts + BUCKET_MS, end_reason: 'stopped', client: '' });
    const agg = { count: 250, min: -30, max: -10, avg: -20, last: -20 };
    const zero = { ...agg, min: 0, max: 0, avg: 0, last: 0 };
    // What an earlier relay wrote: five meters per tap.
    const old = { 'pcm.rms_dbfs': agg, 'pcm.peak_dbfs': agg, 'pcm.clipping_ratio': zero, 'pcm.dc_offset': zero, 'loudness.momentary_lufs': agg };
    store.insertBucket({
      trace_id: 'trace_before_r128',
      station_key: 'old',
      bucket_ts: ts,
      bucket_ms: BUCKET_MS,
      sample_rate: RATE,
      metrics: { PRE: old, POST: old },
      knobs: defaultKnobs(),
      config_version: 0,
      last_knob_event_id: null,
      ingest: { frames_received: 250, bytes_received: 0, frames_dropped: 0, decode_errors: 0, frames_concealed: 0, resyncs: 0, late_frames: 0, frames_out_of_order: 0 },
      sample_start: 0,
      samples: 0,
      pre_path: null,
      post_path: null,
      segment_bytes: 0,
      client: '',
    });
    const [entry] = await snapshot('trace_before_r128', ts);
    for (const tap of TAPS) expect(Object.keys(entry.metrics[tap]).sort()).toEqual(Object.keys(old).sort());
  });
});
