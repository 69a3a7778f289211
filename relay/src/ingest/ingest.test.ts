/**
 * Ingest to stored buckets, end to end on a real relay: several field testers stream at
 * once (PCM16, Opus, mu-law, seed 001 JSON sources, one with a scheduled gain change, one
 * that sends bad frames in between good ones, one that sends an oversized message), and
 * the stored buckets and WAV segments are measured.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { measureRmsDbfs, sine, toInt16 } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import { LiveRegistry } from '../live/live-registry.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import type { BucketRow } from '../store/store.ts';
import { alignToBucket, sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';

const RATE = 48000;
const SINE_DBFS = -20;
const SINE_RMS_DBFS = SINE_DBFS - 3.0103; // RMS of a sine is its peak minus 3.01 dB
const STREAM_S = 6.4;

let t: TestRelay;
let bucket1 = 0; // the bucket every station covers from its first to its last sample
const stations: Record<string, SimulatedStation> = {};
const jsonMessages: IngestServerMessage[] = [];
let oversizeClose: { code: number; messages: IngestServerMessage[] } | null = null;

function segment(row: BucketRow, tap: 'PRE' | 'POST'): Float32Array {
  const path = t.relay.segments.absolute((tap === 'PRE' ? row.pre_path : row.post_path) as string);
  const wav = readWav(readFileSync(path));
  expect(wav.sampleRate).toBe(row.sample_rate);
  expect(wav.channels).toBe(1);
  expect(wav.bitsPerSample).toBe(16);
  return wav.samples;
}

function bucketOf(name: string, bucketTs: number): BucketRow {
  const started = stations[name].started!;
  const row = t.relay.store.getBucket(started.trace_id, started.station_key, bucketTs);
  if (row === undefined) throw new Error(`no bucket ${new Date(bucketTs).toISOString()} for ${name}`);
  return row;
}

/** Seed 001: base64 PCM16 chunks for two named sources on one connection, paced in real time. */
async function streamJsonSources(url: string, seconds: number): Promise<void> {
  const ws = new WebSocket(url);
  ws.on('message', (d) => jsonMessages.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'start', codec: 'pcm16', sample_rate: 16000, channels: 1, frame_ms: 20, label: 'call' }));
  const caller = toInt16(sine(440, -12, seconds, 16000));
  const callee = toInt16(sine(880, -30, seconds, 16000));
  const chunk = 320;
  const t0 = performance.now();
  for (let i = 0; i * chunk < caller.length; i++) {
    const wait = t0 + i * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    for (const [source, pcm] of [['caller', caller], ['callee', callee]] as const) {
      const part = pcm.subarray(i * chunk, (i + 1) * chunk);
      ws.send(JSON.stringify({ type: 'audio', source, data: Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('base64') }));
    }
  }
  ws.send(JSON.stringify({ type: 'stop' }));
  await new Promise((r) => ws.once('close', r));
}

/** Good Opus frames with bad ones in between: each bad one is reported, nothing good is lost. */
async function streamWithBadFrames(st: SimulatedStation): Promise<void> {
  await st.connect();
  const audio = st.opts.audio;
  const frames = Math.round((STREAM_S * 1000) / 20);
  const t0 = performance.now();
  for (let n = 0; n < frames; n++) {
    const wait = t0 + n * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    const good = encodeFrame({ timestampMs: n * 20, sequence: n, codec: CODEC_IDS.opus, flags: 0 }, audio.packets[n % audio.packets.length]);
    st.send(good);
    st.framesSent++;
    if (n % 50 === 25) {
      st.send(new Uint8Array([1, 2, 3])); // shorter than the 8-byte header
      // Undecodable Opus (a code-3 packet with a truncated body) under the next sequence number;
      // the real packet with that number follows, so nothing is missing from the stream.
      st.send(encodeFrame({ timestampMs: (n + 1) * 20, sequence: n + 1, codec: CODEC_IDS.opus, flags: 0 }, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])));
      // And a duplicate of the packet just sent: discarded without touching the decoder.
      st.send(good);
    }
  }
  st.stop();
  await st.done;
}

/** Streams one second of good frames, then a message over 64 KiB. */
async function streamThenOversize(url: string, audio: ReturnType<typeof encodeAudio>): Promise<void> {
  const st = new SimulatedStation({ url, audio, label: 'oversize', durationS: 30 });
  stations.oversize = st;
  await st.connect();
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) {
    st.pump(performance.now());
    await sleep(5);
  }
  st.send(new Uint8Array(70 * 1024));
  await st.done;
  oversizeClose = { code: st.closeCode as number, messages: st.messages };
}

beforeAll(async () => {
  t = await startTestRelay({ mediaWorkers: 2 });
  const tone = sine(1000, SINE_DBFS, 10, RATE);
  const pcm16 = encodeAudio(tone, RATE, 'pcm16');
  const opus = encodeAudio(tone, RATE, 'opus');
  const pcmu = encodeAudio(sine(1000, SINE_DBFS, 10, 8000), 8000, 'pcmu');

  // Start 0.8 s before a bucket boundary and stream 6.4 s: bucket1 is covered whole.
  await alignToBucket(4200);
  bucket1 = Math.ceil(Date.now() / 5000) * 5000;
  const opts = { url: t.wsUrl, durationS: STREAM_S };
  stations.pcm16 = new SimulatedStation({ ...opts, audio: pcm16, label: 'pcm16' });
  stations.opus = new SimulatedStation({ ...opts, audio: opus, label: 'opus' });
  stations.pcmu = new SimulatedStation({ ...opts, audio: pcmu, label: 'pcmu' });
  stations.gain = new SimulatedStation({ ...opts, audio: pcm16, label: 'gain' });
  stations.messy = new SimulatedStation({ ...opts, audio: opus, label: 'messy' });
  const simple = [stations.pcm16, stations.opus, stations.pcmu, stations.gain];
  await Promise.all(simple.map((s) => s.connect()));

  // The gain station: +6 dB from the first sample of bucket1, scheduled once it is live.
  const scheduled = (async () => {
    const g = stations.gain.started!;
    await waitFor(() => (LiveRegistry.isStreaming(t.relay.registry.find(g.trace_id, g.station_key)) ? true : undefined), 5000, 'gain station live');
    return t.relay.scheduleKnobs({
      traceId: g.trace_id,
      stationKey: g.station_key,
      applyAtBucketTs: bucket1,
      knobs: { 'pcm.input_gain_db': 6 },
      source: 'test',
      reason: 'gain step at a bucket boundary',
      idempotencyKey: null,
      requestHash: null,
    });
  })();

  await Promise.all([
    runStations(simple),
    scheduled,
    streamJsonSources(t.wsUrl, STREAM_S),
    streamWithBadFrames(stations.messy),
    streamThenOversize(t.wsUrl, pcm16),
  ]);
  expect((await scheduled).ok).toBe(true);
  // bucket1 is complete one grace period after its end; give the writer a moment more.
  await waitFor(() => (Date.now() > bucket1 + 5000 + 1000 + 500 ? true : undefined), 15_000);
  await waitFor(() => (t.relay.writer.backlog === 0 ? true : undefined), 5000);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('ingest to buckets and segments', () => {
  it('stores a PCM16 station: PRE segment RMS within 0.1 dB of the sent signal, metrics and knobs', () => {
    const row = bucketOf('pcm16', bucket1);
    const pre = segment(row, 'PRE');
    expect(pre.length).toBe(5 * RATE);
    expect(Math.abs(measureRmsDbfs(pre) - SINE_RMS_DBFS)).toBeLessThan(0.1);
    const rms = row.metrics.PRE['pcm.rms_dbfs'];
    expect(rms.count).toBe(250);
    expect(Math.abs(rms.avg - SINE_RMS_DBFS)).toBeLessThan(0.1);
    expect(Math.abs(row.metrics.PRE['pcm.peak_dbfs'].max - SINE_DBFS)).toBeLessThan(0.1);
    expect(row.metrics.PRE['pcm.clipping_ratio'].max).toBe(0);
    // BS.1770: a 1 kHz sine reads its RMS level in LUFS to within a few hundredths (K-weighting gain +0.69 dB, offset -0.691).
    expect(Math.abs(row.metrics.PRE['loudness.momentary_lufs'].last - SINE_RMS_DBFS)).toBeLessThan(0.2);
    expect(row.knobs).toEqual(defaultKnobs());
    expect(row.config_version).toBe(0);
    expect(row.last_knob_event_id).toBeNull();
    // Default knobs are transparent: POST equals PRE.
    expect(segment(row, 'POST')).toEqual(pre);
    expect(row.ingest.frames_dropped).toBe(0);
  });

  it('stores Opus and mu-law stations at the level sent', () => {
    const opus = segment(bucketOf('opus', bucket1), 'PRE');
    expect(Math.abs(measureRmsDbfs(opus) - SINE_RMS_DBFS)).toBeLessThan(0.5);
    const pcmu = bucketOf('pcmu', bucket1);
    expect(pcmu.sample_rate).toBe(8000);
    expect(Math.abs(measureRmsDbfs(segment(pcmu, 'PRE')) - SINE_RMS_DBFS)).toBeLessThan(0.2);
  });

  it('applies a scheduled gain change from the first sample of its bucket, exactly', () => {
    const before = bucketOf('gain', bucket1 - 5000);
    const after = bucketOf('gain', bucket1);
    expect(before.config_version).toBe(0);
    expect(before.knobs['pcm.input_gain_db']).toBe(0);
    expect(after.config_version).toBe(1);
    expect(after.knobs['pcm.input_gain_db']).toBe(6);
    expect(after.last_knob_event_id).toBeGreaterThan(0);

    // The bucket before: POST is PRE, up to its very last sample.
    const preA = segment(before, 'PRE');
    const postA = segment(before, 'POST');
    expect(postA.length).toBe(5 * RATE);
    expect(postA).toEqual(preA);
    // The bucket after: every sample from the first is PRE x 10^(6/20).
    const g = 10 ** (6 / 20);
    const preB = segment(after, 'PRE');
    const postB = segment(after, 'POST');
    let worst = 0;
    for (let i = 0; i < preB.length; i++) worst = Math.max(worst, Math.abs(postB[i] - preB[i] * g));
    expect(worst).toBeLessThanOrEqual(1.5 / 32768);
    // The first loud sample of the bucket already carries the gain.
    const firstLoud = preB.findIndex((v) => Math.abs(v) > 0.05);
    expect(firstLoud).toBeLessThan(48);
    expect(postB[firstLoud] / preB[firstLoud]).toBeCloseTo(g, 3);
    expect(after.metrics.POST['pcm.rms_dbfs'].avg - after.metrics.PRE['pcm.rms_dbfs'].avg).toBeCloseTo(6, 1);
    const events = t.relay.store.listKnobEvents(after.trace_id, after.station_key);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: after.last_knob_event_id, apply_at_bucket_ts: bucket1, source: 'test', config_version: 1 });
  });

  it('makes each seed 001 source its own station in one trace', () => {
    const started = jsonMessages.filter((m): m is Extract<IngestServerMessage, { type: 'started' }> => m.type === 'started');
    expect(started.map((m) => m.source)).toEqual([undefined, 'caller', 'callee']);
    const traceId = started[0].trace_id;
    expect(new Set(started.map((m) => m.trace_id))).toEqual(new Set([traceId]));
    const stored = t.relay.store.listStations(traceId);
    // The primary station never received sourceless audio, so it was never created.
    expect(stored.map((s) => [s.station_key, s.label])).toEqual([
      ['caller', 'caller'],
      ['callee', 'callee'],
    ]);
    const caller = t.relay.store.getBucket(traceId, 'caller', bucket1)!;
    const callee = t.relay.store.getBucket(traceId, 'callee', bucket1)!;
    expect(caller.sample_rate).toBe(16000);
    expect(measureRmsDbfs(segment(caller, 'PRE'))).toBeCloseTo(-15.01, 1);
    expect(measureRmsDbfs(segment(callee, 'PRE'))).toBeCloseTo(-33.01, 1);
    expect(jsonMessages.some((m) => m.type === 'stopped')).toBe(true);
  });

  it('reports bad frames and undecodable payloads, and loses nothing that was accepted', () => {
    const st = stations.messy;
    const errors = st.messages.filter((m) => m.type === 'error');
    expect(errors.some((m) => m.type === 'error' && m.code === 'frame_too_short')).toBe(true);
    expect(errors.some((m) => m.type === 'error' && m.code === 'decode_failed')).toBe(true);
    const row = bucketOf('messy', bucket1);
    expect(row.metrics.PRE['pcm.rms_dbfs'].count).toBe(250);
    expect(row.ingest.frames_concealed).toBe(0);
    expect(row.ingest.decode_errors).toBeGreaterThanOrEqual(5);
    expect(row.ingest.frames_out_of_order).toBeGreaterThanOrEqual(5);
    expect(Math.abs(measureRmsDbfs(segment(row, 'PRE')) - SINE_RMS_DBFS)).toBeLessThan(0.5);
    expect(st.closeCode).toBe(1000);
  });

  it('closes an oversized message with 1009 after saying why, and keeps the audio before it', () => {
    expect(oversizeClose?.code).toBe(1009);
    const err = oversizeClose?.messages.find((m) => m.type === 'error');
    expect(err).toMatchObject({ type: 'error', code: 'message_too_big' });
    const started = stations.oversize.started!;
    const rows = t.relay.store.listBuckets(started.trace_id);
    const frames = rows.reduce((n, r) => n + r.metrics.PRE['pcm.rms_dbfs'].count, 0);
    expect(frames).toBe(stations.oversize.framesSent);
    const station = t.relay.store.getStation(started.trace_id, started.station_key)!;
    expect(station.ended_at).not.toBeNull();
    expect(station.end_reason).toBe('disconnect');
  });
});
