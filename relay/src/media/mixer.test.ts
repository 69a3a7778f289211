/**
 * The trace mixer alone, on hand-made frames with exact media times and arrival times (no
 * worker, no clock): two stations with tones at different frequencies and rates (48 and
 * 16 kHz), one joining later, one with a gap and a burst of late frames; the mix decoded
 * with libopus and each tone measured (Goertzel); the wait rule, the late rule, the idle
 * rule and the tick step by step; a station running ahead of the wall clock; the horizon
 * following a steadily late station; the limiter on two full-scale tones; leaving, an
 * empty mix and joining again.
 */
import { describe, expect, it } from 'vitest';
import { measureToneDbfs, sine } from '../audio/signals.ts';
import { EgressBatchWriter, readEgressBatch, type EgressRecord } from './egress-batch.ts';
import { Mixer, MIX_LIMITER_THRESHOLD_DBFS, MIX_TICK_SLACK_MS, type MixSource } from './mixer.ts';
import type { Frame, TapSink } from './stage.ts';
import { decodeEgress } from '../testing/opus-packets.ts';

/** A bucket boundary, so slot k is T0 + 20k ms. */
const T0 = Date.parse('2026-01-03T21:15:00.000Z');
const BUCKET_MS = 5000;
const OPTIONS = { bitrate: 64000, complexity: 5 };
const METERS = new Float64Array(5);
/** libopus's lookahead at 48 kHz: the decoded mix lags the slots by this much. */
const OPUS_DELAY = 312;

/** A station as the mixer sees it: frames of its audio on the POST tap, slot k at T0 + 20k ms. */
class TestStation implements MixSource {
  readonly sinks: [TapSink[], TapSink[]] = [[], []];
  private readonly frame: Frame;

  constructor(
    readonly id: number,
    readonly sampleRate: number,
    private readonly audio: Float32Array,
  ) {
    const n = sampleRate / 50;
    // Longer than a frame, as a decoder's buffer handed on in place may be.
    this.frame = { samples: new Float32Array(2 * n), length: n, bucketTs: 0, offset: 0, arrivalMs: 0, concealed: false };
  }

  attachSink(tap: 0 | 1, sink: TapSink): void {
    this.sinks[tap].push(sink);
  }

  detachSink(tap: 0 | 1, sink: TapSink): boolean {
    const i = this.sinks[tap].indexOf(sink);
    if (i >= 0) this.sinks[tap].splice(i, 1);
    return i >= 0;
  }

  /** Frame k (slot T0 + 20k ms) arriving at `arrivalMs` (relative to T0), `length` samples of it. */
  send(k: number, arrivalMs: number, length = this.sampleRate / 50): void {
    const n = this.sampleRate / 50;
    const f = this.frame;
    f.samples.fill(0.5); // beyond `length`: must not be mixed
    f.samples.set(this.audio.subarray(k * n, k * n + length));
    const ms = T0 + 20 * k;
    f.bucketTs = Math.floor(ms / BUCKET_MS) * BUCKET_MS;
    f.offset = ((ms - f.bucketTs) * this.sampleRate) / 1000;
    f.length = length;
    f.arrivalMs = T0 + arrivalMs;
    for (const s of [...this.sinks[1]]) s.consume(f, METERS);
  }
}

type Delivery = [at: number, station: TestStation, k: number];

/** Delivers frames in order of arrival (ties: in the order given). */
function deliver(deliveries: Delivery[]): void {
  const sorted = deliveries.map((d, i) => [d, i] as const).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]);
  for (const [[at, s, k]] of sorted) s.send(k, at);
}

function setup(): { mixer: Mixer; take: () => EgressRecord[] } {
  const batch = new EgressBatchWriter();
  const mixer = new Mixer(900, 1, 1, OPTIONS, batch);
  const take = (): EgressRecord[] => {
    const { buffer, bytes } = batch.take();
    return [...readEgressBatch(buffer, bytes)].map((r) => ({ ...r, data: r.data.slice() }));
  };
  return { mixer, take };
}

/** Level of the `hz` component of a decoded mix over slots [from, to), dB re a full-scale sine. */
function toneDb(x: Float32Array, hz: number, from: number, to: number): number {
  return measureToneDbfs(x, hz, 48000, from * 960 + OPUS_DELAY, to * 960 + OPUS_DELAY);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('Mixer', () => {
  it('mixes a 48 kHz and a 16 kHz station by media time: both tones at their levels, one joining later, a gap, late frames dropped and counted', () => {
    const { mixer, take } = setup();
    const a = new TestStation(1, 48000, sine(440, -20, 3, 48000));
    const b = new TestStation(2, 16000, sine(1500, -26, 3, 16000));
    mixer.join(a);
    const deliveries: Delivery[] = range(0, 150).map((k) => [20 * k + 23, a, k]);
    // B joins at slot 50, has nothing for slots 90..99 (a gap), and its frames 120..126 come
    // late, in one burst with frame 127.
    for (const k of range(50, 150)) {
      if (k >= 90 && k < 100) continue;
      deliveries.push([k >= 120 && k < 127 ? 20 * 127 + 31 : 20 * k + 31, b, k]);
    }
    deliver(deliveries.filter(([at]) => at < 1000));
    mixer.join(b);
    deliver(deliveries.filter(([at]) => at >= 1000));

    const records = take();
    // A is there all along: one packet per slot, 20 ms apart, sequence from 0.
    expect(records.map((r) => r.sequence)).toEqual(range(0, 150));
    expect(records.map((r) => r.timestampMs - T0)).toEqual(range(0, 150).map((k) => 20 * k));
    expect(records.every((r) => r.stationId === 900 && r.tap === 1 && r.generation === 1)).toBe(true);

    // Late: B's first frame (its slot went before B was heard), its first after the gap
    // (A's frame came first and B was idle), and the five of the burst that the horizon
    // (60 ms then) had given up on; 125 and 126 made it.
    expect(mixer.contributorStats()).toEqual([
      { id: 1, frames: 150, late: 0 },
      { id: 2, frames: 90, late: 7 },
    ]);
    const stats = mixer.stats();
    expect(stats).toMatchObject({ tap: 'POST', contributors: 2, slots: 150, late_frames: 7, packets: 150, encode_errors: 0, limited_slots: 0 });
    // Slots that went while B was still waited for: 90..96 of the gap (until B was idle for 200 ms), 120..124 of the burst.
    expect(stats.slots_without_all).toBe(12);
    // The burst's first frame came 151 ms after its slot's end: the horizon now waits that long, and a slot more.
    expect(stats.horizon_ms).toBe(171);

    const mix = decodeEgress(records);
    const near = (db: number, want: number, tol: number): void => expect(Math.abs(db - want)).toBeLessThan(tol);
    // A alone.
    near(toneDb(mix, 440, 10, 45), -20, 0.5);
    expect(toneDb(mix, 1500, 10, 45)).toBeLessThan(-60);
    // Both, each at its own level (the 16 kHz one through its resampler).
    near(toneDb(mix, 440, 55, 85), -20, 0.5);
    near(toneDb(mix, 1500, 55, 85), -26, 0.5);
    // B's gap, and its late frames: A alone.
    expect(toneDb(mix, 1500, 91, 99)).toBeLessThan(-45);
    near(toneDb(mix, 440, 91, 99), -20, 0.5);
    expect(toneDb(mix, 1500, 120, 124)).toBeLessThan(-40);
    // Both again after each.
    near(toneDb(mix, 1500, 102, 118), -26, 0.5);
    near(toneDb(mix, 1500, 130, 148), -26, 0.5);
    near(toneDb(mix, 440, 130, 148), -20, 0.5);
    mixer.close();
  });

  it('waits for every active station, sends a slot 60 ms late without it, stops waiting for a station idle for 200 ms, and the tick sends what stopped', () => {
    const { mixer, take } = setup();
    const a = new TestStation(1, 48000, sine(440, -20, 1, 48000));
    const b = new TestStation(2, 48000, sine(1000, -20, 1, 48000));
    mixer.join(a);
    mixer.join(b);
    const slots = (): number[] => take().map((r) => (r.timestampMs - T0) / 20);

    a.send(0, 21);
    expect(slots()).toEqual([0]); // B has not been heard: not waited for
    b.send(0, 25);
    expect(mixer.contributorStats()[1].late).toBe(1); // its slot had gone
    a.send(1, 41);
    expect(slots()).toEqual([]); // B is active now: slot 1 waits for it
    b.send(1, 45);
    expect(slots()).toEqual([1]);
    a.send(2, 61);
    a.send(3, 81);
    a.send(4, 101);
    expect(slots()).toEqual([]);
    a.send(5, 120); // 60 ms past slot 2's end
    expect(slots()).toEqual([2]);
    a.send(6, 140);
    a.send(7, 160);
    expect(slots()).toEqual([3, 4]);
    a.send(8, 246); // B's last frame came at 45: more than 200 ms ago, no longer waited for
    expect(slots()).toEqual([5, 6, 7, 8]);
    expect(mixer.stats()).toMatchObject({ slots_without_all: 3, late_frames: 1 });
    b.send(9, 250); // B again: waited for once more
    a.send(10, 255);
    expect(slots()).toEqual([9]);
    // A's frame 8 came 66 ms after its slot's end: the horizon is now that and a slot.
    expect(mixer.stats().horizon_ms).toBe(86);
    // Both stop, slot 10 waiting for B. Nothing arrives any more: the worker's clock, less
    // its slack, takes over once it is ahead of the last arrival, and slot 10 goes 86 ms
    // after its end.
    mixer.tick(T0 + 254 + MIX_TICK_SLACK_MS);
    mixer.tick(T0 + 305 + MIX_TICK_SLACK_MS);
    expect(slots()).toEqual([]);
    mixer.tick(T0 + 306 + MIX_TICK_SLACK_MS);
    expect(slots()).toEqual([10]);
    mixer.close();
    mixer.close(); // safe twice
    a.send(11, 560); // taken off the tap
    expect(a.sinks[1]).toEqual([]);
  });

  it('holds a station running ahead of the wall clock in the ring until the others deliver', () => {
    const { mixer, take } = setup();
    // A's first packet came 200 ms late: its frames arrive 200 ms before their slots.
    const a = new TestStation(1, 48000, sine(440, -20, 2, 48000));
    const b = new TestStation(2, 16000, sine(1500, -20, 2, 16000));
    mixer.join(a);
    mixer.join(b);
    const deliveries: Delivery[] = [];
    for (const k of range(0, 100)) deliveries.push([20 * k + 20 - 200, a, k], [20 * k + 25, b, k]);
    deliver(deliveries);
    mixer.leave(1);
    mixer.leave(2); // the last one: everything held goes
    const records = take();
    expect(records.map((r) => (r.timestampMs - T0) / 20)).toEqual(range(0, 100));
    // Only B's first three frames were late: before B was heard, A's slots went as the arrival
    // clock reached them (not 200 ms early, as A delivered them); from then on they waited for B.
    expect(mixer.contributorStats()).toEqual([]);
    expect(mixer.stats()).toMatchObject({ late_frames: 3, overrun_slots: 0, slots_without_all: 0, contributors: 0 });
    const mix = decodeEgress(records);
    expect(Math.abs(toneDb(mix, 440, 10, 90) - -20)).toBeLessThan(0.5);
    expect(Math.abs(toneDb(mix, 1500, 10, 90) - -20)).toBeLessThan(0.5);
    mixer.close();
  });

  it('widens its horizon for a station that is steadily 100 ms late, and stops dropping its frames', () => {
    const { mixer, take } = setup();
    const a = new TestStation(1, 48000, sine(440, -20, 3, 48000));
    const b = new TestStation(2, 48000, sine(1000, -20, 3, 48000));
    mixer.join(a);
    mixer.join(b);
    const deliveries: Delivery[] = [];
    for (const k of range(0, 150)) deliveries.push([20 * k + 21, a, k], [20 * k + 20 + 100, b, k]);
    deliver(deliveries);
    // B's frames 0..4 came after their slots had gone (B had not been heard yet); from then
    // on the horizon (60 ms, then 100 ms of lag and a slot) waits for every one of them.
    expect(mixer.contributorStats()[1]).toEqual({ id: 2, frames: 150, late: 5 });
    expect(mixer.stats().horizon_ms).toBe(120);
    const records = take();
    const mix = decodeEgress(records);
    expect(Math.abs(toneDb(mix, 1000, 10, 145) - -20)).toBeLessThan(0.5);
    mixer.close();
  });

  it('keeps the sum of two full-scale tones under its ceiling with the limiter (no 1/N gain)', () => {
    const { mixer, take } = setup();
    const a = new TestStation(1, 48000, sine(440, 0, 2, 48000));
    const b = new TestStation(2, 16000, sine(1000, 0, 2, 16000));
    mixer.join(a);
    mixer.join(b);
    const deliveries: Delivery[] = [];
    for (const k of range(0, 100)) deliveries.push([20 * k + 21, a, k], [20 * k + 22, b, k]);
    deliver(deliveries);
    const stats = mixer.stats();
    expect(stats.peak_in_dbfs as number).toBeGreaterThan(5.5); // the sum peaks near +6 dBFS
    expect(stats.peak_out_dbfs as number).toBeLessThanOrEqual(MIX_LIMITER_THRESHOLD_DBFS);
    expect(stats.limited_slots).toBeGreaterThan(90);
    const mix = decodeEgress(take());
    let peak = 0;
    for (let i = 0; i < mix.length; i++) peak = Math.max(peak, Math.abs(mix[i]));
    expect(20 * Math.log10(peak)).toBeLessThan(-0.2); // below 0 dBFS after the codec too: nothing clipped
    mixer.close();
  });

  it('sends nothing without stations, mixes again when one joins (the sequence going on), pads a short last frame and retunes in place', () => {
    const { mixer, take } = setup();
    const a = new TestStation(1, 16000, sine(440, -20, 1, 16000));
    mixer.join(a);
    mixer.join(a); // joining twice changes nothing
    expect(a.sinks[1]).toHaveLength(1);
    for (const k of range(0, 10)) a.send(k, 20 * k + 21);
    a.send(10, 221, 100); // its last frame, short
    mixer.leave(1);
    mixer.leave(1);
    expect(a.sinks[1]).toEqual([]);
    const first = take();
    expect(first.map((r) => r.sequence)).toEqual(range(0, 11));
    mixer.tick(T0 + 60_000);
    expect(take()).toEqual([]);
    // Someone calls in again a minute later.
    mixer.configure({ bitrate: 24000, complexity: 3 });
    const c = new TestStation(3, 48000, sine(440, -20, 62, 48000));
    mixer.join(c);
    for (const k of range(3000, 3010)) c.send(k, 20 * k + 21);
    const again = take();
    expect(again.map((r) => r.sequence)).toEqual(range(11, 21));
    expect(again[0].timestampMs).toBe(T0 + 60_000);
    expect(mixer.stats()).toMatchObject({ bitrate: 24000, complexity: 3, late_frames: 0, slots: 21 });
    mixer.close();
  });
});
