/**
 * Listener egress in a station on a controlled clock: one Opus packet per 20 ms frame with
 * exact sequences, timestamps on the bucket grid and arrival times, for stations at 48, 44.1
 * and 16 kHz; PRE and POST apart by a scheduled gain; a retune keeps the sequence, a stop
 * stops, a restart starts again at 0; a recording and an ended station have none.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../../../protocol/knobs.ts';
import { float32ToInt16 } from '../../../worklets/dsp/pcm.ts';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { EgressBatchWriter, readEgressBatch, type EgressRecord } from './egress-batch.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { StationSpec } from './messages.ts';
import type { PacketView } from './packet-batch.ts';
import { Station } from './station.ts';
import { decodeEgress } from '../testing/opus-packets.ts';

const T0 = Date.parse('2026-01-03T21:15:03.000Z'); // 2 s before a bucket boundary
const OPTIONS = { bitrate: 32000, complexity: 5 };
/**
 * These tests are about the encoder, fed packet by packet: the station runs on the plain
 * ingress queue (an allowance beyond the jitter buffer's largest delay selects it), which
 * hands each packet on as it comes, so a send's frames are encoded when it returns.
 */
const PLAIN_QUEUE_ALLOWANCE_MS = 1000;

function spec(rate: number, over: Partial<StationSpec> = {}): StationSpec {
  return {
    id: 7, traceId: 'trace_egress', stationKey: 'st_egress', codec: 'pcm16', sampleRate: rate, queueFrames: 48, jitterAllowanceMs: PLAIN_QUEUE_ALLOWANCE_MS,
    bucketMs: 5000, graceMs: 1000, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1', ...over,
  };
}

/** A station fed 20 ms PCM packets of `audio`, one per 20 ms of its clock, and its egress batch. */
function harness(rate: number, audio: Float32Array, over: Partial<StationSpec> = {}) {
  const batch = new EgressBatchWriter();
  const station = new Station(spec(rate, over), { bucket: () => undefined, status: () => undefined, decodeError: () => undefined }, new LatencyHistogram(), undefined, batch);
  const n = rate / 50;
  const pcm = new Int16Array(n);
  let seq = 0;
  /** Sends packets [from, to) of the audio, arriving at `arrival(k)`. */
  const send = (from: number, to: number, arrival = (k: number): number => T0 + k * 20): void => {
    for (let k = from; k < to; k++) {
      pcm.fill(0);
      float32ToInt16(audio, pcm, Math.min(n, audio.length - k * n), k * n, 0);
      const p: PacketView = { stationId: 7, timestampMs: seq * 20, sequence: seq & 0xffff, codec: CODEC_IDS.pcm16, flags: 0, arrivalMs: arrival(k), payload: new Uint8Array(pcm.slice().buffer), mediaMs: 0 };
      seq++;
      station.enqueue(p, arrival(k));
      station.tick(arrival(k));
    }
  };
  /** The packets posted so far (copies: the batch starts over). */
  const take = (): EgressRecord[] => {
    const { buffer, bytes } = batch.take();
    return [...readEgressBatch(buffer, bytes)];
  };
  return { station, send, take, batch };
}

describe('EgressEncoder on a station', () => {
  for (const rate of [48000, 44100, 16000]) {
    it(`${rate} Hz: one packet per frame, sequence from 0, timestamps 20 ms apart on the grid, arrival of the frame's packet`, () => {
      const { station, send, take } = harness(rate, sine(1000, -20, 2, rate));
      station.setEgress(1, OPTIONS);
      send(0, 100);
      const records = take();
      expect(records).toHaveLength(100);
      records.forEach((r, k) => {
        expect(r).toMatchObject({ stationId: 7, tap: 1, generation: 1, sequence: k, timestampMs: T0 + k * 20, arrivalMs: T0 + k * 20 });
      });
      const audio = decodeEgress(records);
      expect(Math.abs(measureRmsDbfs(audio, 4800) - -23.01)).toBeLessThan(1);
      expect(station.stages().egress_post).toMatchObject({ tap: 'POST', enabled: true, packets: 100, encode_errors: 0, bitrate: 32000, encoder_rate: rate === 44100 ? 48000 : rate });
      expect(station.stages().egress_pre).toEqual({ tap: 'PRE', enabled: false });
      station.close();
    });
  }

  it('PRE and POST differ by the gain scheduled for the next bucket, from its first frame', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 4, 48000));
    station.setEgress(0, OPTIONS);
    station.setEgress(1, OPTIONS);
    expect(station.schedule(T0 + 2000, mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': -12 }), 1, 1)).toBeNull();
    send(0, 200);
    const records = take();
    const pre = decodeEgress(records.filter((r) => r.tap === 0));
    const post = decodeEgress(records.filter((r) => r.tap === 1));
    expect(pre.length).toBe(200 * 960);
    // The boundary is frame 100: before it the same level, after it POST is 12 dB down.
    const level = (x: Float32Array, from: number, to: number): number => measureRmsDbfs(x, from * 960, to * 960);
    expect(Math.abs(level(pre, 20, 95) - level(post, 20, 95))).toBeLessThan(0.5);
    expect(level(pre, 105, 200) - level(post, 105, 200)).toBeCloseTo(12, 0);
    expect(records.filter((r) => r.tap === 1 && r.timestampMs >= T0 + 2000)[0].sequence).toBe(100);
    station.close();
  });

  it('keeps the sequence through a retune, stops on null, and starts a fresh encoder at 0 when enabled again', () => {
    const { station, send, take } = harness(48000, sine(440, -20, 2, 48000));
    station.setEgress(1, OPTIONS);
    send(0, 20);
    station.setEgress(1, { bitrate: 64000, complexity: 2 }); // same stream, new rate
    station.setEgress(1, { bitrate: 64000, complexity: 2 }); // repeated: nothing changes
    send(20, 40);
    station.setEgress(1, null);
    station.setEgress(1, null); // safe twice
    send(40, 60);
    expect(station.stages().egress_post).toEqual({ tap: 'POST', enabled: false });
    station.setEgress(1, OPTIONS);
    send(60, 80);
    const records = take();
    expect(records.map((r) => r.sequence)).toEqual([...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(records.map((r) => r.generation)).toEqual([...Array(40).fill(1), ...Array(20).fill(2)]);
    expect(records[40].timestampMs).toBe(T0 + 60 * 20);
    // The retune shows in the packets: 64 kbit/s after frame 20.
    const kbps = (rs: EgressRecord[]): number => (rs.reduce((a, r) => a + r.data.length, 0) * 8 * 50) / rs.length / 1000;
    expect(kbps(records.slice(25, 40))).toBeGreaterThan(1.5 * kbps(records.slice(5, 20)));
    station.close();
  });

  it('steps its timestamps over a stall that moved the timeline, the sequence going on by one', () => {
    const { station, send, take } = harness(16000, sine(1000, -20, 2, 16000));
    station.setEgress(1, OPTIONS);
    send(0, 50);
    // The sender stalls for 3 s (more than the 1 s grace), then goes on in real time.
    send(50, 100, (k) => T0 + 3000 + k * 20);
    const records = take();
    expect(records.map((r) => r.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const steps = records.slice(1).map((r, i) => r.timestampMs - records[i].timestampMs);
    expect(steps.filter((s) => s !== 20)).toHaveLength(1);
    expect(steps[49]).toBeGreaterThan(2000);
    station.close();
  });

  it('sends its last frame, padded, at the end, and nothing after; a recording never has egress', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 1, 48000));
    station.setEgress(0, OPTIONS);
    send(0, 10);
    // Half a frame more, then the end.
    const half: PacketView = { stationId: 7, timestampMs: 200, sequence: 10, codec: CODEC_IDS.pcm16, flags: 0, arrivalMs: T0 + 200, payload: new Uint8Array(960), mediaMs: 0 };
    station.enqueue(half, T0 + 200);
    station.tick(T0 + 200);
    station.end(T0 + 220);
    station.setEgress(0, OPTIONS); // ignored: the station ended
    station.tick(T0 + 10_000);
    const records = take();
    expect(records.map((r) => r.sequence)).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(records[10].timestampMs).toBe(T0 + 200);
    expect(decodeEgress(records)).toHaveLength(11 * 960);
    expect(station.stages().egress_pre).toEqual({ tap: 'PRE', enabled: false });
    station.close();

    const rec = harness(48000, sine(1000, -20, 1, 48000), { recorded: { part: 0 } });
    rec.station.setEgress(1, OPTIONS);
    rec.send(0, 10);
    expect(rec.take()).toEqual([]);
    expect(rec.station.stages().egress_post).toEqual({ tap: 'POST', enabled: false });
    rec.station.close();
  });

  it('refuses bad options and taps with a RangeError, before anything changes', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 1, 48000));
    station.setEgress(1, OPTIONS);
    expect(() => station.setEgress(1, { bitrate: 100, complexity: 5 })).toThrow(/bitrate .* got 100/);
    expect(() => station.setEgress(1, { bitrate: 32000, complexity: 12 })).toThrow(RangeError);
    expect(() => station.setEgress(2 as 0, OPTIONS)).toThrow(/tap must be 0 \(PRE\) or 1 \(POST\), got 2/);
    send(0, 5);
    expect(take().map((r) => r.sequence)).toEqual([0, 1, 2, 3, 4]);
    expect(station.stages().egress_post).toMatchObject({ bitrate: 32000, complexity: 5 });
    station.close();
    station.close(); // safe twice
  });
});

describe('EgressEncoder history (historyMs)', () => {
  const HISTORY = { ...OPTIONS, historyMs: 1000 };
  const level = (x: Float32Array, fromFrame: number, toFrame: number): number => measureRmsDbfs(x, fromFrame * 960, toFrame * 960);

  /** History packets first, sequence 0.., 20 ms apart, the last one 20 ms before the first live one; then the live ones. */
  function expectHistoryThenLive(records: EgressRecord[], history: number, firstLiveMs: number): void {
    records.forEach((r, k) => {
      expect(r.sequence).toBe(k);
      expect(r.history).toBe(k < history);
      expect(r.timestampMs).toBe(firstLiveMs + (k - history) * 20);
    });
  }

  for (const rate of [48000, 44100, 16000]) {
    it(`${rate} Hz: a start after 2.5 s sends the last 1 s at once, across the bucket boundary, as history before the live packets`, () => {
      const { station, send, take } = harness(rate, sine(1000, -20, 4, rate));
      send(0, 125); // T0 .. T0 + 2500: the current bucket began at T0 + 2000
      expect(take()).toEqual([]);
      station.setEgress(1, HISTORY);
      const history = take();
      expect(history).toHaveLength(50); // at once, before any live frame
      send(125, 150);
      const records = [...history, ...take()];
      expect(records).toHaveLength(75);
      expectHistoryThenLive(records, 50, T0 + 125 * 20);
      expect(records.filter((r) => r.history && r.timestampMs < T0 + 2000)).toHaveLength(25); // from the previous bucket
      expect(records.every((r) => r.generation === 1 && r.arrivalMs === (r.history ? T0 + 124 * 20 : r.timestampMs))).toBe(true);
      // The tone at its level (-20 dBFS peak: -23.01 dBFS RMS) in the history, over the seam into live, and live.
      const audio = decodeEgress(records);
      expect(Math.abs(level(audio, 5, 50) - -23.01)).toBeLessThan(1);
      expect(Math.abs(level(audio, 45, 55) - -23.01)).toBeLessThan(1);
      expect(Math.abs(level(audio, 50, 75) - -23.01)).toBeLessThan(1);
      expect(station.stages().egress_post).toMatchObject({ packets: 75, history_packets: 50, encode_errors: 0 });
      station.close();
    });
  }

  it('reads the tap\'s own side of the buckets: PRE history before the gain, POST after it', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 4, 48000));
    expect(station.schedule(T0 + 2000, mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': -12 }), 1, 1)).toBeNull();
    send(0, 150); // the current bucket (from T0 + 2000) has 1 s with the gain
    station.setEgress(0, HISTORY);
    station.setEgress(1, HISTORY);
    const records = take();
    const pre = decodeEgress(records.filter((r) => r.tap === 0));
    const post = decodeEgress(records.filter((r) => r.tap === 1));
    expect(records.filter((r) => r.history)).toHaveLength(100);
    expect(Math.abs(level(pre, 5, 50) - -23.01)).toBeLessThan(1);
    expect(level(pre, 5, 50) - level(post, 5, 50)).toBeCloseTo(12, 0);
    station.close();
  });

  it('sends none with historyMs 0 or absent, none on a retune, and history again on a start after null', () => {
    const { station, send, take } = harness(48000, sine(440, -20, 4, 48000));
    send(0, 100);
    station.setEgress(1, { ...OPTIONS, historyMs: 0 });
    send(100, 105);
    station.setEgress(0, OPTIONS);
    send(105, 110);
    let records = take();
    expect(records.some((r) => r.history)).toBe(false);
    expect(records.filter((r) => r.tap === 1).map((r) => r.sequence)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(records.filter((r) => r.tap === 0).map((r) => r.sequence)).toEqual(Array.from({ length: 5 }, (_, i) => i));
    // A retune (history asked for, or a new historyMs alone) never re-sends history.
    station.setEgress(1, { bitrate: 64000, complexity: 2, historyMs: 1000 });
    station.setEgress(1, { bitrate: 64000, complexity: 2, historyMs: 2000 });
    send(110, 115);
    records = take().filter((r) => r.tap === 1);
    expect(records.map((r) => [r.sequence, r.history])).toEqual(Array.from({ length: 5 }, (_, i) => [10 + i, false]));
    // Stopped and started again: a fresh encoder, history first.
    station.setEgress(1, null);
    send(115, 130);
    station.setEgress(1, { ...OPTIONS, historyMs: 600 });
    send(130, 135);
    records = take().filter((r) => r.tap === 1);
    expect(records.map((r) => r.generation)).toEqual(Array(35).fill(2));
    expectHistoryThenLive(records, 30, T0 + 130 * 20);
    station.close();
  });

  it('gives only what the station has streamed: 300 ms is 15 packets', () => {
    const { station, send, take } = harness(16000, sine(1000, -20, 1, 16000));
    send(0, 15);
    station.setEgress(1, { ...OPTIONS, historyMs: 5000 });
    send(15, 20);
    const records = take();
    expectHistoryThenLive(records, 15, T0 + 15 * 20);
    expect(records[0].timestampMs).toBe(T0); // the station's first frame
    station.close();
  });

  it('starts after a gap the station never sent (a resync), rather than replaying its silence', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 4, 48000));
    send(0, 10);
    // A 1.5 s stall (more than the 1 s grace), still inside the bucket: the timeline jumps.
    send(10, 30, (k) => T0 + 1500 + k * 20);
    station.setEgress(1, HISTORY);
    const history = take();
    send(30, 35, (k) => T0 + 1500 + k * 20);
    const records = [...history, ...take()];
    expect(history).toHaveLength(20); // the frames after the jump only
    expectHistoryThenLive(records, 20, records[20].timestampMs);
    expect(records[0].timestampMs).toBeGreaterThanOrEqual(T0 + 1500);
    expect(Math.abs(level(decodeEgress(records), 5, 25) - -23.01)).toBeLessThan(1);
    station.close();
  });

  it('refuses a bad historyMs with a RangeError (TypeError for a non-number), before anything changes', () => {
    const { station, send, take } = harness(48000, sine(1000, -20, 1, 48000));
    for (const historyMs of [-1, 5001, 1.5, Number.NaN, Infinity]) {
      expect(() => station.setEgress(1, { ...OPTIONS, historyMs })).toThrow(RangeError);
    }
    expect(() => station.setEgress(1, { ...OPTIONS, historyMs: 6000 })).toThrow('historyMs must be an integer from 0 to 5000 ms, got 6000');
    expect(() => station.setEgress(1, { ...OPTIONS, historyMs: '100' as unknown as number })).toThrow(TypeError);
    send(0, 5);
    expect(take()).toEqual([]);
    expect(station.stages().egress_post).toEqual({ tap: 'POST', enabled: false });
    station.setEgress(1, { ...OPTIONS, historyMs: 5000 }); // the largest is fine
    expect(take().map((r) => r.history)).toEqual(Array(5).fill(true));
    station.close();
  });

  it('a recording has no egress, history or not', () => {
    const rec = harness(48000, sine(1000, -20, 1, 48000), { recorded: { part: 0 } });
    rec.send(0, 10);
    rec.station.setEgress(1, HISTORY);
    rec.send(10, 20);
    expect(rec.take()).toEqual([]);
    rec.station.close();
  });
});
