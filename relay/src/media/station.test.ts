/**
 * The station pipeline on a controlled clock: the playout clock, drop-oldest, concealment
 * of sequence gaps, resync after a stall, and exact knob scheduling.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../../../protocol/knobs.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { BucketRecord, StationSpec } from './messages.ts';
import type { PacketView } from './packet-batch.ts';
import { flattenChunks } from './sample-chunks.ts';
import { Station } from './station.ts';

/** A bucket record with its chunked audio flattened, to read samples by index. */
type Bucket = Omit<BucketRecord, 'pre' | 'post'> & { pre: Int16Array; post: Int16Array };
const flat = (r: BucketRecord): Bucket => ({ ...r, pre: flattenChunks(r.pre, r.samples), post: flattenChunks(r.post, r.samples) });

const RATE = 8000;
const FRAME = 160; // 20 ms at 8 kHz
const T0 = Date.parse('2026-01-03T21:15:03.000Z'); // 2 s before a bucket boundary

function spec(over: Partial<StationSpec> = {}): StationSpec {
  return {
    id: 1,
    traceId: 'trace_test',
    stationKey: 'st_test',
    codec: 'pcm16',
    sampleRate: RATE,
    queueFrames: 48,
    jitterAllowanceMs: 60,
    bucketMs: 5000,
    graceMs: 1000,
    knobs: defaultKnobs(),
    configVersion: 0,
    lastKnobEventId: null,
    client: 'address:127.0.0.1',
    ...over,
  };
}

/** A 20 ms PCM16 frame holding a constant value (so frames can be told apart in the segment). */
function packet(seq: number, value: number, arrivalMs: number): PacketView {
  const pcm = new Int16Array(FRAME).fill(value);
  return { stationId: 1, timestampMs: seq * 20, sequence: seq & 0xffff, codec: CODEC_IDS.pcm16, flags: 0, arrivalMs, payload: new Uint8Array(pcm.buffer), mediaMs: 0 };
}

function harness(over: Partial<StationSpec> = {}) {
  const buckets: Bucket[] = [];
  const statuses: { state: string; dropped: number; depth: number }[] = [];
  const errors: string[] = [];
  const station = new Station(
    spec(over),
    {
      bucket: (r) => buckets.push(flat(r)),
      status: (state, dropped, depth) => statuses.push({ state, dropped, depth }),
      decodeError: (code) => errors.push(code),
    },
    new LatencyHistogram(),
  );
  return { station, buckets, statuses, errors };
}

/** Segment sample values at each 20 ms frame start of a bucket. */
function frameValues(r: Bucket): number[] {
  const out: number[] = [];
  for (let i = 0; i < r.samples; i += FRAME) out.push(r.pre[i]);
  return out;
}

describe('Station', () => {
  it('maps samples to buckets by count, not arrival: late-arriving frames land where they belong', () => {
    const { station, buckets } = harness();
    // 150 frames (3 s) sent in real time, but frames 90-109 arrive 400 ms late in a burst.
    for (let n = 0; n < 150; n++) {
      const arrival = n >= 90 && n < 110 ? T0 + 110 * 20 : T0 + n * 20;
      station.enqueue(packet(n, 100 + n, arrival), arrival);
      station.tick(arrival);
    }
    station.end(T0 + 3000);
    station.tick(T0 + 10_000);
    expect(buckets.map((b) => new Date(b.bucketTs).toISOString())).toEqual(['2026-01-03T21:15:00.000Z', '2026-01-03T21:15:05.000Z']);
    // Frame 100 (the 2nd s after the boundary) is at its place, however late it came.
    expect(buckets[0].sampleStart).toBe(3 * RATE);
    expect(frameValues(buckets[1]).slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => 200 + i));
    expect(buckets[1].metrics.PRE['pcm.rms_dbfs'].count).toBe(50);
  });

  it('consumes at the media rate: a sender 4x too fast fills the queue and loses its oldest frames', () => {
    const { station, statuses } = harness();
    let seq = 0;
    for (let ms = 0; ms <= 2000; ms += 5) {
      station.enqueue(packet(seq++, 1000, T0 + ms), T0 + ms); // one 20 ms frame every 5 ms
      station.tick(T0 + ms);
    }
    const s = station.stats();
    const jb = station.stages().clock;
    // The jitter buffer holds the ingress queue's 48 packets on top of its largest delay
    // (200 ms: 10 packets). What it played: 2 s of wall time at the media rate, plus at most
    // 500 ms the sender may run ahead of its first packet, less the target delay it keeps
    // (60 ms at most here), plus the packets dropped to accelerate; everything else was
    // dropped, oldest first.
    expect(s.counters.frames_received).toBe(401);
    expect(s.queueDepth).toBe(58);
    const played = Number(jb.played) + Number(jb.accelerate);
    console.log(`4x sender: played ${jb.played}, accelerate ${jb.accelerate}, dropped ${s.counters.frames_dropped}, held ${s.queueDepth}`);
    expect(played).toBeGreaterThanOrEqual((2000 - 60) / 20);
    expect(played).toBeLessThanOrEqual((2000 + 500) / 20 + 3);
    expect(s.counters.frames_dropped).toBe(401 - 58 - played);
    expect(statuses[0]).toMatchObject({ state: 'backpressure' });
    // Rate-limited: one status per second at most while dropping.
    expect(statuses.length).toBeLessThanOrEqual(3);
    // Once drops stop, the queue drains in real time and the station says ok.
    for (let ms = 2005; ms <= 4500; ms += 10) station.tick(T0 + ms);
    expect(station.stats().queueDepth).toBe(0);
    expect(statuses.at(-1)).toMatchObject({ state: 'ok' });
  });

  it('plays a burst of packets that were held up on the way, whatever the queue size, and drops none', () => {
    const { station, buckets } = harness();
    for (let n = 0; n < 50; n++) {
      station.enqueue(packet(n, 1000, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
    }
    // A second of audio sent in real time but held up on the way (a stalled event loop): 52
    // packets, more than the queue's 48, reach the station in one batch, the first 990 ms late.
    const burstAt = T0 + 50 * 20 + 990;
    for (let n = 50; n < 102; n++) station.enqueue(packet(n, 1000 + n, burstAt), burstAt);
    station.tick(burstAt);
    expect(station.stats().counters).toMatchObject({ frames_received: 102, frames_dropped: 0, late_frames: 0, resyncs: 0 });
    station.end(burstAt + 100);
    station.tick(burstAt + 10_000);
    // Every packet of the burst plays, in order. The jitter it showed raises the buffer's
    // target, which inserts concealment frames to grow the delay: they are counted as such.
    const values = buckets.flatMap(frameValues);
    // (A concealment frame repeats the level of the packet before it: count each run once.)
    const burst = values.filter((v, i) => v >= 1050 && v !== values[i - 1]);
    expect(burst).toEqual(Array.from({ length: 52 }, (_, i) => 1050 + i));
    const last = buckets.at(-1)!.ingest;
    const frames = buckets.reduce((n, b) => n + b.metrics.PRE['pcm.rms_dbfs'].count, 0);
    expect(frames).toBe(102 + last.frames_concealed);
  });

  it('conceals a gap in sequence numbers so the timeline stays in step', () => {
    const { station, buckets } = harness();
    for (let n = 0; n < 100; n++) {
      if (n >= 40 && n < 43) continue; // three packets lost on the way
      station.enqueue(packet(n, 1000, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
    }
    station.end(T0 + 2000);
    station.tick(T0 + 10_000);
    const all = buckets.flatMap(frameValues).filter((v) => v !== 0);
    expect(all.length).toBe(100);
    // Pitch waveform substitution (ITU-T G.711 Appendix I): full level for 10 ms, then 20 %
    // less per 10 ms (0.8 at 20 ms, 0.4 at 40 ms), silent at 60 ms; the next packet is
    // cross-faded in from that silence over 10 ms (80 samples: its first is 1000 × 0.5/80).
    expect(all.slice(39, 45)).toEqual([1000, 1000, 800, 400, 6, 1000]);
    expect(buckets.at(-1)!.ingest.frames_concealed).toBe(3);
  });

  it('moves a stalled station forward instead of writing into finalized buckets', () => {
    const { station, buckets } = harness();
    for (let n = 0; n < 50; n++) {
      station.enqueue(packet(n, 500, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
    }
    // Silence from the client for 8 s, then more audio.
    for (let ms = 1000; ms < 9000; ms += 10) station.tick(T0 + ms);
    expect(buckets).toHaveLength(1);
    for (let n = 50; n < 100; n++) {
      const at = T0 + 9000 + (n - 50) * 20;
      station.enqueue(packet(n, 700, at), at);
      station.tick(at);
    }
    station.end(T0 + 10_000);
    station.tick(T0 + 20_000);
    const s = station.stats();
    expect(s.counters.resyncs).toBe(1);
    expect(s.counters.late_frames).toBe(0);
    expect(buckets).toHaveLength(2);
    expect(new Date(buckets[1].bucketTs).toISOString()).toBe('2026-01-03T21:15:10.000Z');
    // The frame arriving at T0 + 9 s (21:15:12) is placed one frame back: it was captured in the 20 ms before.
    expect(buckets[1].sampleStart).toBe(2 * RATE - FRAME);
  });

  it('applies a scheduled knob change from the first sample of its bucket, and refuses one for a started bucket', () => {
    const { station, buckets } = harness();
    const boundary = Date.parse('2026-01-03T21:15:05.000Z');
    const gained = mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': 20 });
    expect(station.schedule(boundary, gained, 1, 7)).toBeNull();
    for (let n = 0; n < 150; n++) {
      station.enqueue(packet(n, 100, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
      if (n === 120) expect(station.schedule(boundary, gained, 2, 8)).toBe('bucket_started');
    }
    station.end(T0 + 3000);
    station.tick(T0 + 10_000);
    const [before, after] = buckets;
    expect(before.post[before.samples - 1]).toBe(100);
    expect(after.post[0]).toBe(1000);
    expect(before.configVersion).toBe(0);
    expect(after).toMatchObject({ configVersion: 1, lastKnobEventId: 7 });
    expect(after.knobs['pcm.input_gain_db']).toBe(20);
    expect(station.schedule(boundary + 5000, gained, 2, 8)).toBe('station_ended');
  });

  it('lets a change for an earlier bucket replace the ones pending for later buckets', () => {
    const { station, buckets } = harness();
    const b1 = Date.parse('2026-01-03T21:15:05.000Z');
    const far = mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': -40 });
    const near = mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': 20 });
    expect(station.schedule(b1 + 5000, far, 1, 7)).toBeNull();
    expect(station.schedule(b1, near, 2, 8)).toBeNull();
    for (let n = 0; n < 400; n++) {
      station.enqueue(packet(n, 100, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
    }
    station.end(T0 + 8000);
    station.tick(T0 + 20_000);
    expect(buckets.map((b) => [b.configVersion, b.lastKnobEventId, b.knobs['pcm.input_gain_db']])).toEqual([
      [0, null, 0],
      [2, 8, 20],
      [2, 8, 20],
    ]);
    expect(buckets[2].post[0]).toBe(1000);
  });

  it('does not hold back a station whose first packet came late', () => {
    const { station } = harness();
    // The first packet is 300 ms late; the rest arrive on time: the audio already due is
    // played at once, and the buffer holds no more than its target delay (20 ms here: 1
    // packet, 60 ms at the most this jitter would give), the 40 ms of due audio that starts
    // such a catch-up, and the packet just arrived.
    station.enqueue(packet(0, 100, T0 + 300), T0 + 300);
    station.tick(T0 + 300);
    for (let n = 1; n < 100; n++) {
      const at = T0 + n * 20 < T0 + 300 ? T0 + 300 : T0 + n * 20;
      station.enqueue(packet(n, 100, at), at);
      station.pump(at);
      if (at >= T0 + 400) expect(station.stats().queueDepth).toBeLessThanOrEqual(6);
    }
    const jb = station.stages().clock;
    expect(station.stats().counters.frames_dropped).toBe(0);
    // Nothing concealed or discarded: the late start costs no audio.
    expect(jb).toMatchObject({ lost: 0, late: 0, concealedMs: 0 });
  });

  it('counts a frame of the wrong codec as a decode error and goes on', () => {
    const { station, errors } = harness();
    const bad = { ...packet(0, 1, T0), codec: CODEC_IDS.opus };
    station.enqueue(bad, T0);
    station.enqueue(packet(0, 1, T0), T0);
    station.tick(T0);
    expect(errors).toEqual(['codec_mismatch']);
    expect(station.stats().counters.decode_errors).toBe(1);
  });

  it('in recorded mode, processes packets as they come at their capture times, whatever the clock', () => {
    const latency = new LatencyHistogram();
    const buckets: Bucket[] = [];
    const station = new Station(spec({ recorded: { part: 7 } }), { bucket: (r) => buckets.push(flat(r)), status: () => undefined, decodeError: () => undefined }, latency);
    const captured = T0 - 3_600_000; // an hour ago, 2 s before a bucket boundary
    const now = Date.now();
    // 400 packets (8 s) at once: ten times the ingress queue, nothing dropped or held back.
    for (let n = 0; n < 400; n++) station.enqueue(packet(n, 100 + n, captured + n * 20), now);
    // The wall clock is an hour ahead: the bucket the last packets are in stays open.
    station.tick(now + 60_000);
    expect(buckets.map((b) => b.bucketTs - captured)).toEqual([-3000]);
    station.end(now);
    expect(station.finished).toBe(true);
    expect(buckets.map((b) => new Date(b.bucketTs + 3_600_000).toISOString())).toEqual([
      '2026-01-03T21:15:00.000Z',
      '2026-01-03T21:15:05.000Z',
      '2026-01-03T21:15:10.000Z',
    ]);
    expect(buckets.map((b) => [b.sampleStart, b.samples, b.metrics.PRE['pcm.rms_dbfs'].count])).toEqual([
      [3 * RATE, 5 * RATE, 100],
      [0, 5 * RATE, 250],
      [0, 1 * RATE, 50],
    ]);
    expect(buckets.every((b) => b.recordedPart === 7)).toBe(true);
    expect(frameValues(buckets[1]).slice(0, 3)).toEqual([200, 201, 202]);
    expect(station.stats().counters).toMatchObject({ frames_received: 400, frames_dropped: 0, resyncs: 0, late_frames: 0 });
    expect(latency.count).toBe(0);
  });
});
