/**
 * Exports of a station's audio over a time range, end to end on a real relay: a station
 * streams a 1 kHz tone for 13 s from about 2 s into bucket B0; during B0 a knob change is
 * scheduled for B2. The export of [B0 + 1 s, B0 + 14 s) spans B0, B1 and B2 and starts
 * before the station did. A second station of the same trace, at 48 kHz, streams a 440 Hz
 * tone 6 dB lower: the whole trace's export mixes both.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_MAX_RANGE_MS } from '../../../protocol/export.ts';
import { measureRmsDbfs, measureToneDbfs, sine } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { alignToBucket, sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { children, EBML_ID, readElements, uintValue } from '../listen/webm-reader.ts';

const RATE = 16000;
const BUCKET_MS = 5000;
const STATION = 'export-tone';
const STATION2 = 'export-low-tone';
const RATE2 = 48000;
const TONE2_HZ = 440;
const TONE2_PEAK_DBFS = -26;
const FFPROBE = '/usr/bin/ffprobe';
const TONE_PEAK_DBFS = -20;
const SINE_RMS_OFFSET_DB = -3.0103; // the RMS of a sine is its peak minus 3.01 dB
const FFMPEG = '/usr/bin/ffmpeg';
/** Opus decodes at 48 kHz, in 20 ms frames. */
const OPUS_RATE = 48000;
const OPUS_FRAME_48K = 960;

interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  json: any;
}

let t: TestRelay;
let station: SimulatedStation;
let station2: SimulatedStation;
let streaming: Promise<void> = Promise.resolve();
let traceId = '';
let b0 = 0;
let fromMs = 0;
let toMs = 0;

const iso = (ms: number): string => new Date(ms).toISOString();
const tokenWith = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'export.test').token;

async function get(path: string, token: string | null = t.relay.adminToken as string): Promise<Res> {
  const r = await fetch(`${t.httpUrl}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await r.arrayBuffer());
  const json = (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(body.toString('utf8')) : undefined;
  return { status: r.status, headers: r.headers, body, json };
}

const query = (over: Record<string, string> = {}): string =>
  new URLSearchParams({ trace_id: traceId, station_key: STATION, tap: 'PRE', from: iso(fromMs), to: iso(toMs), format: 'wav', ...over }).toString();
const exportOf = (over: Record<string, string> = {}, token?: string | null): Promise<Res> => get(`/api/audio/export?${query(over)}`, token);
const sidecarOf = (over: Record<string, string> = {}, token: string | null = tokenWith('read:snapshots')): Promise<Res> => {
  const q = new URLSearchParams(query(over));
  q.delete('tap');
  q.delete('format');
  return get(`/api/audio/export/sidecar?${q.toString()}`, token);
};

function expectError(res: Res, status: number, code: string, message: RegExp): void {
  expect(res.status, res.body.toString('utf8')).toBe(status);
  expect(res.json).toEqual({ success: false, error: { code, message: expect.stringMatching(message) } });
}

/** A WAV's 16-bit samples (after the canonical 44-byte header) as integers. */
const int16 = (wav: Buffer): Int16Array => new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));

/** A bucket's segment as the segment route serves it, as integers. */
async function segmentSamples(bucketTs: number, tap: 'PRE' | 'POST'): Promise<Int16Array> {
  const res = await get(`/api/audio/segment?${new URLSearchParams({ trace_id: traceId, station_key: STATION, tap, bucket_ts: iso(bucketTs) }).toString()}`);
  expect(res.status).toBe(200);
  return Int16Array.from(readWav(res.body).samples, (s) => Math.round(s * 32768));
}

beforeAll(async () => {
  t = await startTestRelay();
  const audio = encodeAudio(sine(1000, TONE_PEAK_DBFS, 13, RATE), RATE, 'pcm16');
  await alignToBucket(2000);
  b0 = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
  station = new SimulatedStation({ url: t.wsUrl, audio, stationKey: STATION, label: 'export', durationS: 13 });
  traceId = (await station.connect()).trace_id;
  const audio2 = encodeAudio(sine(TONE2_HZ, TONE2_PEAK_DBFS, 13, RATE2), RATE2, 'pcm16');
  station2 = new SimulatedStation({ url: t.wsUrl, audio: audio2, traceId, stationKey: STATION2, label: 'export low', durationS: 13 });
  await station2.connect();
  streaming = runStations([station, station2]);
  fromMs = b0 + 1000;
  toMs = b0 + 14_000;
  const apply = await fetch(`${t.httpUrl}/api/optimizer/knobs/apply`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenWith('write:knobs')}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      trace_id: traceId,
      station_key: STATION,
      apply_at_bucket_ts: iso(b0 + 2 * BUCKET_MS),
      idempotency_key: `export-${process.pid}-${Date.now()}`,
      source: 'export.test',
      knobs: { 'pcm.input_gain_db': -6 },
    }),
  });
  expect(apply.status).toBe(200);
  await waitFor(() => t.relay.store.getBucket(traceId, STATION, b0 + 2 * BUCKET_MS), 30_000, 'bucket B2 stored');
}, 60_000);

afterAll(async () => {
  station?.stop();
  station2?.stop();
  await Promise.race([streaming, sleep(5000)]);
  await t?.close();
});

describe('GET /api/audio/export', () => {
  it('streams one WAV of the range: exact header and length, decodable by ffmpeg, silence before the station, the tone at its level, the segments\' samples', async () => {
    const res = await exportOf({}, tokenWith('read:audio'));
    expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
    const n = ((toMs - fromMs) * RATE) / 1000;
    expect(n).toBe(208_000);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('content-length')).toBe(String(44 + 2 * n));
    expect(res.headers.get('x-sample-rate')).toBe(String(RATE));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${traceId}_${STATION}_PRE_${iso(fromMs).replace(/:/g, '-')}.wav"`);
    const wav = res.body;
    expect(wav.length).toBe(44 + 2 * n);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(36 + 2 * n);
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect([wav.readUInt16LE(20), wav.readUInt16LE(22), wav.readUInt32LE(24), wav.readUInt32LE(28), wav.readUInt16LE(32), wav.readUInt16LE(34)]).toEqual([1, 1, RATE, 2 * RATE, 2, 16]);
    expect(wav.toString('ascii', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(2 * n);

    // ffmpeg reads it without a complaint, and decodes exactly n samples.
    const file = join(t.dataDir, 'export.wav');
    writeFileSync(file, wav);
    const check = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stderr).toBe('');
    const raw = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-f', 's16le', '-'], { maxBuffer: 16 * 1024 * 1024 });
    expect(raw.status).toBe(0);
    expect(raw.stdout.length).toBe(2 * n);

    const x = int16(wav);
    // Silence up to the station's first sample (B0's sample_start), which is after `from`.
    const first = t.relay.store.getBucket(traceId, STATION, b0);
    expect(first).toBeDefined();
    const leadIn = (first as { sample_start: number }).sample_start - ((fromMs - b0) * RATE) / 1000;
    expect(leadIn).toBeGreaterThan(RATE / 2);
    expect(x.subarray(0, leadIn).every((s) => s === 0)).toBe(true);
    // The tone in B1, at the level it was sent (PRE: before the knob chain).
    const b1 = ((b0 + BUCKET_MS - fromMs) * RATE) / 1000;
    const f = Float32Array.from(x.subarray(b1 + RATE / 2, b1 + (9 * RATE) / 2), (s) => s / 32768);
    const rms = measureRmsDbfs(f);
    console.log(`export: lead-in ${leadIn} samples (${((leadIn / RATE) * 1000).toFixed(1)} ms), B1 RMS ${rms.toFixed(3)} dBFS, expected ${(TONE_PEAK_DBFS + SINE_RMS_OFFSET_DB).toFixed(3)}`);
    expect(Math.abs(rms - (TONE_PEAK_DBFS + SINE_RMS_OFFSET_DB))).toBeLessThan(0.5);

    // Every sample is the segment's sample at the same time.
    let compared = 0;
    for (const bucketTs of [b0, b0 + BUCKET_MS, b0 + 2 * BUCKET_MS]) {
      const seg = await segmentSamples(bucketTs, 'PRE');
      const offset = ((bucketTs - fromMs) * RATE) / 1000;
      for (let j = Math.max(0, -offset); j < seg.length && offset + j < n; j++) {
        if (x[offset + j] !== seg[j]) throw new Error(`export sample ${offset + j} is ${x[offset + j]}, bucket ${iso(bucketTs)} sample ${j} is ${seg[j]}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(n - leadIn - RATE);
  });

  it('exports the tap asked for (POST: after the knob change of B2)', async () => {
    const res = await exportOf({ tap: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('_POST_');
    const x = int16(res.body);
    const b2 = ((b0 + 2 * BUCKET_MS - fromMs) * RATE) / 1000;
    const seg = await segmentSamples(b0 + 2 * BUCKET_MS, 'POST');
    expect(Array.from(x.subarray(b2, b2 + RATE))).toEqual(Array.from(seg.subarray(0, RATE)));
    const pre = int16((await exportOf()).body);
    const level = (a: Int16Array): number => measureRmsDbfs(Float32Array.from(a.subarray(b2 + RATE / 2, b2 + 2 * RATE), (s) => s / 32768));
    console.log(`export: B2 PRE ${level(pre).toFixed(2)} dBFS, POST ${level(x).toFixed(2)} dBFS`);
    expect(level(pre) - level(x)).toBeGreaterThan(3);
  });

  it('answers 401 without a token and 403 without read:audio', async () => {
    expectError(await exportOf({}, null), 401, 'unauthorized', /./);
    expectError(await exportOf({}, tokenWith('read:snapshots')), 403, 'forbidden', /read:audio/);
  });

  it('answers 400 naming the parameter for a bad tap, format or date, a reversed or too long range', async () => {
    expectError(await exportOf({ tap: 'MID' }), 400, 'invalid_request', /tap/);
    expectError(await exportOf({ format: 'mp3' }), 400, 'invalid_request', /format.*"wav".*"webm".*"ogg"/);
    expectError(await exportOf({ from: 'yesterday' }), 400, 'invalid_request', /^from must be an ISO-8601.*"yesterday"/);
    expectError(await exportOf({ to: '2026-13-01T00:00:00.000Z' }), 400, 'invalid_request', /^to must be an ISO-8601/);
    expectError(await exportOf({ from: iso(toMs), to: iso(fromMs) }), 400, 'invalid_request', /from .* must be before to/);
    expectError(await exportOf({ to: iso(fromMs) }), 400, 'invalid_request', /must be before to/);
    expectError(await exportOf({ to: iso(fromMs + EXPORT_MAX_RANGE_MS + 1000) }), 400, 'invalid_request', /at most 120 min/);
    // Exactly the cap is allowed (headers only: the body is 230 MB of mostly silence).
    const ctrl = new AbortController();
    const r = await fetch(`${t.httpUrl}/api/audio/export?${query({ to: iso(fromMs + EXPORT_MAX_RANGE_MS) })}`, {
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
      signal: ctrl.signal,
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(44 + 2 * (EXPORT_MAX_RANGE_MS / 1000) * RATE));
    ctrl.abort();
    expectError(await get(`/api/audio/export?trace_id=${traceId}&station_key=${STATION}&tap=PRE&from=${iso(fromMs)}`), 400, 'invalid_request', /to/);
  });

  it('answers 404 for an unknown trace or station', async () => {
    expectError(await exportOf({ trace_id: 'trace_nothere' }), 404, 'trace_not_found', /trace_nothere/);
    expectError(await exportOf({ station_key: 'nobody' }), 404, 'station_not_found', /nobody/);
  });
});

/** ffmpeg's decoding of an exported file: its 16-bit mono samples at 48 kHz, and what it said. */
function decode(name: string, bytes: Buffer): { samples: Int16Array; stderr: string } {
  const file = join(t.dataDir, name);
  writeFileSync(file, bytes);
  const check = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  expect(check.status, check.stderr).toBe(0);
  const raw = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(OPUS_RATE), '-f', 's16le', '-'], { maxBuffer: 64 * 1024 * 1024 });
  expect(raw.status, raw.stderr.toString('utf8')).toBe(0);
  const pcm = raw.stdout as Buffer;
  return { samples: new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length)), stderr: check.stderr + raw.stderr.toString('utf8') };
}

const levelOf = (x: Int16Array, start: number, end: number): number => measureRmsDbfs(Float32Array.from(x.subarray(start, end), (s) => s / 32768));

/** Ogg pages of a file (RFC 3533): header type, granule position, serial, sequence. */
function oggPages(b: Buffer): { type: number; granule: bigint; serial: number; sequence: number; body: Buffer }[] {
  const pages = [];
  for (let at = 0; at < b.length; ) {
    expect(b.toString('ascii', at, at + 4)).toBe('OggS');
    const n = b[at + 26];
    let body = 0;
    for (let i = 0; i < n; i++) body += b[at + 27 + i];
    pages.push({ type: b[at + 5], granule: b.readBigUInt64LE(at + 6), serial: b.readUInt32LE(at + 14), sequence: b.readUInt32LE(at + 18), body: b.subarray(at + 27 + n, at + 27 + n + body) });
    at += 27 + n + body;
  }
  return pages;
}

describe('GET /api/audio/export?format=ogg', () => {
  it('streams Opus in Ogg that ffmpeg decodes without a complaint to the range\'s length, with the WAV\'s silence and level', async () => {
    const res = await exportOf({ format: 'ogg' }, tokenWith('read:audio'));
    expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/ogg');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('x-sample-rate')).toBe(String(OPUS_RATE));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${traceId}_${STATION}_PRE_${iso(fromMs).replace(/:/g, '-')}.ogg"`);

    // RFC 7845: OpusHead alone on the first page (BOS), OpusTags, then audio; the last page
    // (EOS) ends the range exactly: pre-skip + (to - from) × 48000.
    const pages = oggPages(res.body);
    const n48 = ((toMs - fromMs) * OPUS_RATE) / 1000;
    expect(pages[0].type).toBe(2);
    expect(pages[0].body.toString('ascii', 0, 8)).toBe('OpusHead');
    const preSkip = pages[0].body.readUInt16LE(10);
    expect(pages[0].body.readUInt32LE(12)).toBe(RATE);
    expect(pages[1].body.toString('ascii', 0, 8)).toBe('OpusTags');
    expect(pages.map((p) => p.sequence)).toEqual(pages.map((_, i) => i));
    expect(new Set(pages.map((p) => p.serial)).size).toBe(1);
    const last = pages[pages.length - 1];
    expect(last.type).toBe(4);
    expect(last.granule).toBe(BigInt(preSkip + n48));
    for (let i = 3; i < pages.length; i++) expect(pages[i].granule).toBeGreaterThan(pages[i - 1].granule);

    const { samples: x, stderr } = decode('export.ogg', res.body);
    expect(stderr).toBe('');
    console.log(`export ogg: ${res.body.length} bytes (${((res.body.length * 8) / ((toMs - fromMs) / 1000) / 1000).toFixed(1)} kbit/s), pre-skip ${preSkip}, decoded ${x.length} samples, range ${n48}`);
    expect(Math.abs(x.length - n48)).toBeLessThanOrEqual(OPUS_FRAME_48K);

    // The same instants in the WAV export (16 kHz: one sample per three).
    const wav = int16((await exportOf()).body);
    const first = t.relay.store.getBucket(traceId, STATION, b0) as { sample_start: number };
    const leadIn48 = (first.sample_start - ((fromMs - b0) * RATE) / 1000) * (OPUS_RATE / RATE);
    const silent = levelOf(x, 0, leadIn48 - 2 * OPUS_FRAME_48K);
    const b1 = ((b0 + BUCKET_MS - fromMs) * OPUS_RATE) / 1000;
    const ogg = levelOf(x, b1 + OPUS_RATE / 2, b1 + (9 * OPUS_RATE) / 2);
    const ref = levelOf(wav, b1 / 3 + RATE / 2, b1 / 3 + (9 * RATE) / 2);
    console.log(`export ogg: lead-in ${silent} dBFS, B1 ${ogg.toFixed(3)} dBFS, WAV ${ref.toFixed(3)} dBFS`);
    expect(silent).toBeLessThan(-60);
    expect(Math.abs(ogg - ref)).toBeLessThan(1);
    // Aligned with the WAV (pre-skip right): the tone starts where the WAV's does, within 1 ms.
    const onset = (a: Int16Array, from: number): number => a.findIndex((s, i) => i >= from && Math.abs(s) > 1000);
    expect(Math.abs(onset(x, 0) / OPUS_RATE - onset(wav, 0) / RATE)).toBeLessThan(0.001);
  });

  it('encodes at the bitrate asked for', async () => {
    const low = await exportOf({ format: 'ogg', bitrate: '16000' });
    const high = await exportOf({ format: 'ogg', bitrate: '128000' });
    expect([low.status, high.status]).toEqual([200, 200]);
    const kbps = (b: Buffer): number => (b.length * 8) / ((toMs - fromMs) / 1000) / 1000;
    console.log(`export ogg: 16000 → ${kbps(low.body).toFixed(1)} kbit/s, 128000 → ${kbps(high.body).toFixed(1)} kbit/s`);
    expect(kbps(high.body)).toBeGreaterThan(3 * kbps(low.body));
    expect(decode('export-low.ogg', low.body).samples.length).toBe(((toMs - fromMs) * OPUS_RATE) / 1000);
  });

  it('answers 400 naming bitrate for one out of range, not an integer, or with format=wav', async () => {
    expectError(await exportOf({ format: 'ogg', bitrate: '8000' }), 400, 'invalid_request', /bitrate/);
    expectError(await exportOf({ format: 'ogg', bitrate: '256001' }), 400, 'invalid_request', /bitrate/);
    expectError(await exportOf({ format: 'ogg', bitrate: 'fast' }), 400, 'invalid_request', /bitrate/);
    expectError(await exportOf({ format: 'wav', bitrate: '64000' }), 400, 'invalid_request', /^bitrate applies to formats webm and ogg/);
  });
});

describe('GET /api/audio/export/sidecar', () => {
  it('lists the buckets overlapping the range and the knob event applied in it', async () => {
    const res = await sidecarOf();
    expect(res.status, res.body.toString('utf8')).toBe(200);
    const body = res.json;
    expect(body).toMatchObject({ success: true, trace_id: traceId, station_key: STATION, from: iso(fromMs), to: iso(toMs), sample_rate: RATE });
    expect(body.buckets.map((b: { bucket_ts: string }) => b.bucket_ts)).toEqual([iso(b0), iso(b0 + BUCKET_MS), iso(b0 + 2 * BUCKET_MS)]);
    for (const b of body.buckets) expect(Object.keys(b).sort()).toEqual(['bucket_ts', 'config_version', 'knobs_snapshot', 'metrics', 'station_key']);
    expect(body.buckets.every((b: { station_key: string }) => b.station_key === STATION)).toBe(true);
    expect(body.buckets[1].knobs_snapshot['pcm.input_gain_db']).toBe(0);
    expect(body.buckets[2].knobs_snapshot['pcm.input_gain_db']).toBe(-6);
    expect(body.buckets[2].config_version).toBeGreaterThan(body.buckets[1].config_version);
    expect(body.buckets[1].metrics.PRE['pcm.rms_dbfs'].avg).toBeCloseTo(TONE_PEAK_DBFS + SINE_RMS_OFFSET_DB, 0);
    expect(body.knob_events).toHaveLength(1);
    expect(body.knob_events[0]).toMatchObject({ apply_at_bucket_ts: iso(b0 + 2 * BUCKET_MS), station_key: STATION, source: 'export.test', superseded_by: null });
    expect(body.knob_events[0].knobs_effective['pcm.input_gain_db']).toBe(-6);
    expect(body.knob_events[0].config_version).toBe(body.buckets[2].config_version);

    // A range ending before B2: its buckets, and no event.
    const before = (await sidecarOf({ to: iso(b0 + 2 * BUCKET_MS) })).json;
    expect(before.buckets.map((b: { bucket_ts: string }) => b.bucket_ts)).toEqual([iso(b0), iso(b0 + BUCKET_MS)]);
    expect(before.knob_events).toEqual([]);
  });

  it('answers 401, 403 without read:snapshots, 400 and 404 with messages', async () => {
    expectError(await sidecarOf({}, null), 401, 'unauthorized', /./);
    expectError(await sidecarOf({}, tokenWith('read:audio')), 403, 'forbidden', /read:snapshots/);
    expectError(await sidecarOf({ from: 'x' }), 400, 'invalid_request', /^from must be/);
    expectError(await sidecarOf({ from: iso(toMs) }), 400, 'invalid_request', /must be before to/);
    expectError(await sidecarOf({ to: iso(fromMs + EXPORT_MAX_RANGE_MS + 1) }), 400, 'invalid_request', /at most 120 min/);
    expectError(await sidecarOf({ trace_id: 'trace_nothere' }), 404, 'trace_not_found', /trace_nothere/);
    expectError(await sidecarOf({ station_key: 'nobody' }), 404, 'station_not_found', /nobody/);
  });
});

/** ffprobe's view of a file: its stream's codec, rate and channels, and the format's duration (s). */
function probe(name: string, bytes: Buffer): { codec: string; sampleRate: number; channels: number; durationS: number } {
  const file = join(t.dataDir, name);
  writeFileSync(file, bytes);
  const r = spawnSync(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels:format=duration,format_name', '-of', 'json', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  const j = JSON.parse(r.stdout);
  expect(j.format.format_name).toContain('webm');
  return { codec: j.streams[0].codec_name, sampleRate: Number(j.streams[0].sample_rate), channels: j.streams[0].channels, durationS: Number(j.format.duration) };
}

describe.skipIf(skipWithout('ffmpeg and ffprobe', existsSync(FFMPEG) && existsSync(FFPROBE)))('GET /api/audio/export?format=webm', () => {
  it('streams Opus in WebM that ffprobe reads and ffmpeg decodes to exactly the range, with the WAV\'s silence, level and tone', async () => {
    const res = await exportOf({ format: 'webm' }, tokenWith('read:audio'));
    expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/webm');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('x-sample-rate')).toBe(String(OPUS_RATE));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${traceId}_${STATION}_PRE_${iso(fromMs).replace(/:/g, '-')}.webm"`);

    // EBML header, then a Segment of unknown size holding Info, Tracks and the clusters.
    const top = readElements(res.body);
    expect(top.map((e) => e.id)).toEqual([EBML_ID.EBML, EBML_ID.Segment]);
    expect(top[1].unknownSize).toBe(true);
    const inSegment = children(res.body, top[1]);
    expect(inSegment.slice(0, 2).map((e) => e.id)).toEqual([EBML_ID.Info, EBML_ID.Tracks]);
    expect(inSegment.slice(2).every((e) => e.id === EBML_ID.Cluster && !e.unknownSize)).toBe(true);
    const entry = children(res.body, children(res.body, inSegment[1])[0]);
    const codecDelay = entry.find((e) => e.id === EBML_ID.CodecDelay);
    expect(codecDelay).toBeDefined();
    const privateHead = entry.find((e) => e.id === EBML_ID.CodecPrivate) as { start: number };
    const preSkip = res.body.readUInt16LE(privateHead.start + 10);
    expect(uintValue(res.body, codecDelay as never)).toBe(Math.round((preSkip * 1e9) / OPUS_RATE));
    const lastCluster = children(res.body, inSegment[inSegment.length - 1]);
    const lastBlock = lastCluster[lastCluster.length - 1];
    const n48 = ((toMs - fromMs) * OPUS_RATE) / 1000;
    const packets = Math.ceil((preSkip + n48) / OPUS_FRAME_48K);
    const discard = packets * OPUS_FRAME_48K - preSkip - n48;
    if (discard > 0) {
      expect(lastBlock.id).toBe(EBML_ID.BlockGroup);
      expect(children(res.body, lastBlock).map((e) => e.id)).toEqual([EBML_ID.Block, EBML_ID.DiscardPadding]);
    }

    const p = probe('export.webm', res.body);
    console.log(`export webm: ${res.body.length} bytes, ${inSegment.length - 2} clusters, pre-skip ${preSkip}, discard ${discard}, ffprobe ${JSON.stringify(p)}`);
    expect(p).toMatchObject({ codec: 'opus', sampleRate: OPUS_RATE, channels: 1 });
    expect(Math.abs(p.durationS - (toMs - fromMs) / 1000)).toBeLessThan(0.001);

    const { samples: x, stderr } = decode('export.webm', res.body);
    expect(stderr).toBe('');
    console.log(`export webm: decoded ${x.length} samples, range ${n48}`);
    expect(x.length).toBe(n48);

    const wav = int16((await exportOf()).body);
    const first = t.relay.store.getBucket(traceId, STATION, b0) as { sample_start: number };
    const leadIn48 = (first.sample_start - ((fromMs - b0) * RATE) / 1000) * (OPUS_RATE / RATE);
    const silent = levelOf(x, 0, leadIn48 - 2 * OPUS_FRAME_48K);
    const b1 = ((b0 + BUCKET_MS - fromMs) * OPUS_RATE) / 1000;
    const level = levelOf(x, b1 + OPUS_RATE / 2, b1 + (9 * OPUS_RATE) / 2);
    const ref = levelOf(wav, b1 / 3 + RATE / 2, b1 / 3 + (9 * RATE) / 2);
    const f = Float32Array.from(x.subarray(b1, b1 + 4 * OPUS_RATE), (s) => s / 32768);
    const tone = measureToneDbfs(f, 1000, OPUS_RATE);
    const off = measureToneDbfs(f, 1500, OPUS_RATE);
    console.log(`export webm: lead-in ${silent.toFixed(1)} dBFS, B1 ${level.toFixed(3)} dBFS (WAV ${ref.toFixed(3)}), 1 kHz ${tone.toFixed(2)} dBFS, 1.5 kHz ${off.toFixed(1)} dBFS`);
    expect(silent).toBeLessThan(-60);
    expect(Math.abs(level - ref)).toBeLessThan(1);
    expect(Math.abs(tone - TONE_PEAK_DBFS)).toBeLessThan(1);
    expect(off).toBeLessThan(TONE_PEAK_DBFS - 40);
    // Aligned with the WAV (CodecDelay right): the tone starts where the WAV's does, within 1 ms.
    const onset = (a: Int16Array): number => a.findIndex((s) => Math.abs(s) > 1000);
    expect(Math.abs(onset(x) / OPUS_RATE - onset(wav) / RATE)).toBeLessThan(0.001);
  });

  it('decodes to exactly the range for ranges that are not whole packets, at the bitrate asked for', async () => {
    for (const [lengthMs, bitrate] of [
      [2_013, 24_000],
      [5_000, 96_000],
    ] as const) {
      const res = await exportOf({ format: 'webm', bitrate: String(bitrate), from: iso(b0 + 6_000), to: iso(b0 + 6_000 + lengthMs) });
      expect(res.status).toBe(200);
      const kbps = (res.body.length * 8) / (lengthMs / 1000) / 1000;
      const { samples } = decode(`export-${lengthMs}.webm`, res.body);
      console.log(`export webm: ${lengthMs} ms at ${bitrate} bit/s: ${kbps.toFixed(1)} kbit/s, decoded ${samples.length} samples, range ${(lengthMs * OPUS_RATE) / 1000}`);
      expect(samples.length).toBe((lengthMs * OPUS_RATE) / 1000);
      expect(kbps).toBeLessThan((2 * bitrate) / 1000);
    }
  });

  it('answers 400 for a bad format, bitrate or range and 404 for an unknown station, with messages', async () => {
    expectError(await exportOf({ format: 'webm', bitrate: '8000' }), 400, 'invalid_request', /bitrate/);
    expectError(await exportOf({ format: 'webm', bitrate: '300000' }), 400, 'invalid_request', /bitrate/);
    expectError(await exportOf({ format: 'mkv' }), 400, 'invalid_request', /format/);
    expectError(await exportOf({ format: 'webm', from: iso(toMs), to: iso(fromMs) }), 400, 'invalid_request', /must be before to/);
    expectError(await exportOf({ format: 'webm', to: iso(fromMs + EXPORT_MAX_RANGE_MS + 1000) }), 400, 'invalid_request', /at most 120 min/);
    expectError(await exportOf({ format: 'webm', station_key: 'nobody' }), 404, 'station_not_found', /nobody/);
    expectError(await exportOf({ format: 'webm' }, tokenWith('read:snapshots')), 403, 'forbidden', /read:audio/);
  });
});

describe.skipIf(skipWithout('ffmpeg', existsSync(FFMPEG)))('GET /api/audio/export without station_key: the whole trace', () => {
  const mixQuery = (over: Record<string, string> = {}): Record<string, string> => ({ station_key: '', ...over });
  const mixOf = (over: Record<string, string> = {}): Promise<Res> => {
    const q = new URLSearchParams(query(mixQuery(over)));
    q.delete('station_key');
    return get(`/api/audio/export?${q.toString()}`);
  };

  it('mixes both stations into one channel at 48 kHz, each tone at its own level, in every format', async () => {
    const b1 = ((b0 + BUCKET_MS - fromMs) * OPUS_RATE) / 1000;
    const n48 = ((toMs - fromMs) * OPUS_RATE) / 1000;
    for (const format of ['wav', 'webm', 'ogg'] as const) {
      const res = await mixOf({ format });
      expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
      expect(res.headers.get('x-stations')).toBe('2');
      expect(res.headers.get('x-sample-rate')).toBe(String(OPUS_RATE));
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${traceId}_mix_PRE_${iso(fromMs).replace(/:/g, '-')}.${format}"`);
      if (format === 'wav') expect(res.headers.get('content-length')).toBe(String(44 + 2 * n48));
      const { samples: x } = decode(`mix.${format}`, res.body);
      expect(x.length).toBe(n48);
      const f = Float32Array.from(x.subarray(b1, b1 + 4 * OPUS_RATE), (s) => s / 32768);
      const high = measureToneDbfs(f, 1000, OPUS_RATE);
      const low = measureToneDbfs(f, TONE2_HZ, OPUS_RATE);
      console.log(`export mix ${format}: ${res.body.length} bytes, 1 kHz ${high.toFixed(2)} dBFS (sent ${TONE_PEAK_DBFS}), ${TONE2_HZ} Hz ${low.toFixed(2)} dBFS (sent ${TONE2_PEAK_DBFS})`);
      expect(Math.abs(high - TONE_PEAK_DBFS)).toBeLessThan(format === 'wav' ? 0.2 : 1);
      expect(Math.abs(low - TONE2_PEAK_DBFS)).toBeLessThan(format === 'wav' ? 0.2 : 1);
    }
  });

  it('has a sidecar of every station\'s buckets and knob events', async () => {
    const q = new URLSearchParams(query());
    for (const k of ['station_key', 'tap', 'format']) q.delete(k);
    const res = await get(`/api/audio/export/sidecar?${q.toString()}`, tokenWith('read:snapshots'));
    expect(res.status, res.body.toString('utf8')).toBe(200);
    expect(res.json).toMatchObject({ station_key: null, sample_rate: OPUS_RATE });
    const keys = new Set(res.json.buckets.map((b: { station_key: string }) => b.station_key));
    expect(keys).toEqual(new Set([STATION, STATION2]));
    expect(res.json.buckets.filter((b: { station_key: string }) => b.station_key === STATION2)).toHaveLength(3);
    expect(res.json.knob_events.map((e: { station_key: string }) => e.station_key)).toEqual([STATION]);
  });

  it('answers 400 when the stations × range exceed the cap, 404 for an unknown trace', async () => {
    expectError(await mixOf({ to: iso(fromMs + 61 * 60_000) }), 400, 'invalid_request', /at most 120 min of station audio; 2 stations over 61.0 min is 122.0/);
    expectError(await mixOf({ format: 'webm', bitrate: '1000' }), 400, 'invalid_request', /bitrate/);
    expectError(await mixOf({ trace_id: 'trace_nothere' }), 404, 'trace_not_found', /trace_nothere/);
  });
});

describe('exports at once', () => {
  it('streams at most 4 at once (TAPWIRE_MAX_EXPORTS), refuses the next with 503 relay_busy and Retry-After, and frees a slot when a client goes', async () => {
    // Two hours of the 48 kHz station as WAV (691 MB): unread, far more than sockets buffer, so each holds its slot.
    const long = `/api/audio/export?${query({ station_key: STATION2, from: iso(toMs - EXPORT_MAX_RANGE_MS), to: iso(toMs) })}`;
    const clients = Array.from({ length: 4 }, () => new AbortController());
    try {
      const held = await Promise.all(
        clients.map((c) => fetch(`${t.httpUrl}${long}`, { headers: { authorization: `Bearer ${t.relay.adminToken}` }, signal: c.signal })),
      );
      expect(held.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const refused = await exportOf();
      expectError(refused, 503, 'relay_busy', /streaming 4 audio exports already.*retry in 5 s/);
      expect(refused.headers.get('retry-after')).toBe('5');
      // The sidecar is not an export: it answers meanwhile.
      expect((await sidecarOf()).status).toBe(200);

      clients[0].abort();
      const freed = await waitFor(async () => {
        const r = await exportOf();
        return r.status === 200 ? r : undefined;
      }, 10_000, 'an export answered once a client went');
      expect(freed.headers.get('content-type')).toBe('audio/wav');
    } finally {
      for (const c of clients) c.abort();
    }
    // Every slot comes back once the clients are gone.
    await waitFor(async () => ((await Promise.all([exportOf(), exportOf(), exportOf(), exportOf()])).every((r) => r.status === 200) ? true : undefined), 10_000, 'four exports at once again');
  }, 60_000);
});
