/**
 * The jitter buffer as a live station's clock, on a simulated clock (time is compressed:
 * nothing waits). A sender whose clock runs 0.1 % fast or slow for ten minutes is followed
 * by the buffer's accelerate / preemptive-expand decisions alone (seed 004 §7): no resync,
 * nothing dropped, the station's audio continuous on its timeline, the delay bounded.
 * Losses are concealed in place, a flood is cut to the ingress queue, a payload the decoder
 * would refuse is reported and never buffered, and the frames dropped or inserted to follow a
 * drifting sender leave no click in a sine.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../../protocol/frame.ts';
import { defaultKnobs } from '../../../../protocol/knobs.ts';
import { LatencyHistogram } from '../latency-histogram.ts';
import type { BucketRecord, StationSpec } from '../messages.ts';
import type { PacketView } from '../packet-batch.ts';
import { Station } from '../station.ts';

const RATE = 8000;
const FRAME = 160;
const T0 = Date.parse('2026-01-03T21:15:03.000Z');

function spec(over: Partial<StationSpec> = {}): StationSpec {
  return {
    id: 1, traceId: 'trace_jitter', stationKey: 'st_jitter', codec: 'pcm16', sampleRate: RATE, queueFrames: 48, jitterAllowanceMs: 60,
    bucketMs: 5000, graceMs: 1000, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1', ...over,
  };
}

const payload = new Uint8Array(new Int16Array(FRAME).fill(1000).buffer);

function packet(seq: number, arrivalMs: number, body: Uint8Array = payload): PacketView {
  return { stationId: 1, timestampMs: (seq * 20) >>> 0, sequence: seq & 0xffff, codec: CODEC_IDS.pcm16, flags: 0, arrivalMs, payload: body, mediaMs: 0 };
}

function harness(over: Partial<StationSpec> = {}) {
  const buckets: BucketRecord[] = [];
  const statuses: string[] = [];
  const errors: string[] = [];
  const station = new Station(spec(over), { bucket: (r) => buckets.push(r), status: (s) => statuses.push(s), decodeError: (code) => errors.push(code) }, new LatencyHistogram());
  return { station, buckets, statuses, errors };
}

/** A small deterministic network jitter, 0-8 ms. */
function jitterMs(n: number): number {
  return ((n * 7919) % 17) / 2;
}

/**
 * Streams `minutes` of 20 ms packets from a sender whose clock runs at `rate` times ours,
 * ticking the station every 10 ms of our clock; returns what the station says and the
 * buffer's delay at each second.
 */
function drift(rate: number, minutes: number, over: Partial<StationSpec> = {}) {
  const h = harness(over);
  const packets = (minutes * 60_000) / 20;
  const delays: number[] = [];
  let n = 0;
  // Until the last packet has arrived: the stream ends there, before the buffer could run dry.
  const endMs = ((packets - 1) * 20) / rate + 10;
  for (let t = 0; t <= endMs; t += 10) {
    while (n < packets && (n * 20) / rate + jitterMs(n) <= t) {
      const at = T0 + (n * 20) / rate + jitterMs(n);
      h.station.enqueue(packet(n, at), at);
      n++;
    }
    h.station.tick(T0 + t);
    if (t % 1000 === 0 && t >= 5000 && n < packets) delays.push(Number(h.station.stages().clock.current_delay_ms));
  }
  h.station.end(T0 + endMs);
  h.station.flush(T0 + endMs + 10_000);
  return { ...h, delays, packets };
}

describe('JitterClock', () => {
  for (const [name, rate, decision] of [['fast', 1.001, 'accelerate'], ['slow', 0.999, 'preemptiveExpand']] as const) {
    it(`follows a sender clock 0.1 % ${name} for 10 minutes by ${decision} decisions, never a resync or a drop`, () => {
      const { station, buckets, delays, packets } = drift(rate, 10);
      const s = station.stats();
      const jb = station.stages().clock;
      console.log(
        `0.1 % ${name}, 10 min: accelerate ${jb.accelerate}, expand ${jb.preemptiveExpand}, lost ${jb.lost}, late ${jb.late}, concealed ${s.counters.frames_concealed} frames, ` +
          `delay ${Math.min(...delays).toFixed(1)}-${Math.max(...delays).toFixed(1)} ms, target ${jb.target_ms} ms, resyncs ${s.counters.resyncs}, dropped ${s.counters.frames_dropped}`,
      );
      expect(s.counters).toMatchObject({ frames_received: packets, frames_dropped: 0, resyncs: 0, late_frames: 0 });
      expect(jb).toMatchObject({ lost: 0, late: 0, overflow: 0, rebuffers: 0 });
      // 0.1 % of 10 minutes is 600 ms: 30 frames of 20 ms, taken out or put in.
      const followed = Number(jb[decision]);
      expect(followed).toBeGreaterThanOrEqual(25);
      expect(followed).toBeLessThanOrEqual(36);
      const other = decision === 'accelerate' ? 'preemptiveExpand' : 'accelerate';
      expect(Number(jb[other])).toBeLessThanOrEqual(3);
      // The delay stays within the buffer's bounds all along (an expand comes when it has
      // just fallen below the 20 ms target: a fraction of a ms under it at most).
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(19.5);
      expect(Math.max(...delays)).toBeLessThanOrEqual(200);
      // Continuous: every bucket after the first starts at its first sample and is full up to
      // the last one, and the frames add up to what was played and inserted, less what was taken out.
      for (const [i, b] of buckets.entries()) {
        if (i > 0) expect(b.sampleStart).toBe(0);
        if (i > 0 && i < buckets.length - 1) expect(b.samples).toBe(5 * RATE);
        if (i > 0) expect(b.bucketTs - buckets[i - 1].bucketTs).toBe(5000);
      }
      // The first 100 ms of decisions are taken by moving the audio against the wall clock
      // (a wait, a packet played anyway); the rest insert or drop frames.
      const frames = buckets.reduce((sum, b) => sum + b.metrics.PRE['pcm.rms_dbfs'].count, 0);
      expect(frames).toBe(packets - Number(jb.accelerate_dropped) + Number(jb.expand_inserted));
      expect(s.counters.frames_concealed).toBe(Number(jb.expand_inserted));
      const touched = Number(jb[decision === 'accelerate' ? 'accelerate_dropped' : 'expand_inserted']);
      expect(touched).toBeGreaterThanOrEqual(followed - 5 - 3);
      expect(touched).toBeLessThanOrEqual(followed - 5 + 3);
      const cq = station.callQuality()!;
      expect(cq).toMatchObject({ packets_received: packets, packets_lost: 0, loss_percent: 0, level: 'GOOD' });
      expect(cq.mos).toBeCloseTo(4.41, 2);
      expect(cq[decision === 'accelerate' ? 'removed_ms' : 'inserted_ms']).toBe(touched * 20);
    });
  }

  it('aims a stream (WebSocket: streamed) at the jitter it measures and plays its audio once due, well under the 20 ms a datagram keeps', () => {
    const datagram = drift(1, 1);
    const stream = drift(1, 1, { streamed: true });
    const figures = (r: ReturnType<typeof drift>) => {
      const jb = r.station.stages().clock;
      const call = r.station.stats().call;
      return { mean: call?.jitter_buffer_delay_ms ?? NaN, target: Number(jb.target_ms), lost: Number(jb.lost), concealed: r.station.stats().counters.frames_concealed };
    };
    const d = figures(datagram);
    const s = figures(stream);
    console.log(`0-8 ms jitter, arrival to play-out: datagram ${d.mean.toFixed(1)} ms (target ${d.target}), stream ${s.mean.toFixed(1)} ms (target ${s.target})`);
    expect(d.target).toBe(20);
    // A packet waits the target less its own lateness (0-8 ms) for a datagram.
    expect(d.mean).toBeGreaterThan(12);
    // The network's spread is 0-8 ms: its 95th percentile, not a floor, sets the stream's
    // target, and its packets wait for nothing but that (and the 10 ms tick).
    expect(s.target).toBeGreaterThan(5);
    expect(s.target).toBeLessThan(12);
    expect(s.mean).toBeLessThan(d.mean - 8);
    expect(s).toMatchObject({ lost: 0, concealed: 0 });
    expect(stream.station.stats().counters).toMatchObject({ frames_received: stream.packets, frames_dropped: 0, resyncs: 0 });
    // Every frame is on the timeline once: the buckets hold the minute of audio, no more, no less.
    const samples = stream.buckets.reduce((n, b) => n + b.samples - b.sampleStart, 0);
    expect(samples).toBe(stream.packets * FRAME);
  });

  it('conceals packets the network lost in their place, and says so in the call-quality figures', () => {
    const { station, buckets } = harness();
    for (let n = 0; n < 500; n++) {
      if (n % 50 === 10) continue; // 2 % lost, one at a time
      station.enqueue(packet(n, T0 + n * 20), T0 + n * 20);
      station.tick(T0 + n * 20);
    }
    station.end(T0 + 11_000);
    station.flush(T0 + 20_000);
    const jb = station.stages().clock;
    expect(jb).toMatchObject({ lost: 10, late: 0, concealmentEvents: 10 });
    expect(station.stats().counters.frames_concealed).toBe(10);
    // 10 of about 500 due lost, one at a time: 2 % (the last packets, played as the station
    // ended, are not counted as due), BurstR = 1/(10/490 + 10/10) = 0.98;
    // Ie,eff = 95·2/(2/0.98 + 25.1) = 7.00, R = 86.20 less nothing for the 20 ms delay.
    const cq = station.callQuality()!;
    expect(cq).toMatchObject({ packets_received: 490, packets_lost: 10, concealment_events: 10, burst_r: 0.98, level: 'GOOD' });
    expect(cq.loss_percent).toBeCloseTo(2, 1);
    expect(cq.r).toBeCloseTo(86.2, 1);
    expect(cq.jitter_buffer_delay_ms).toBeGreaterThanOrEqual(19);
    expect(cq.jitter_buffer_delay_ms).toBeLessThanOrEqual(21);
    // Per bucket: the losses are where their audio plays (packets 10, 60, ..., one per second).
    const perBucket = buckets.map((b) => b.ingest.qos!);
    expect(perBucket.reduce((n, q) => n + q.packets_lost, 0)).toBe(10);
    expect(perBucket.reduce((n, q) => n + q.packets_received, 0)).toBe(490);
    for (const q of perBucket) {
      expect(q.loss_pct).toBeGreaterThan(1);
      expect(q.loss_pct).toBeLessThan(3);
      expect(q.level).toBe('GOOD');
      expect(q.concealment_events).toBe(q.packets_lost);
    }
    const frames = buckets.reduce((sum, b) => sum + b.metrics.PRE['pcm.rms_dbfs'].count, 0);
    expect(frames).toBe(500);
  });

  it('reports a payload the decoder would refuse and never buffers it; a duplicate is discarded', () => {
    const { station, errors } = harness();
    station.enqueue(packet(0, T0), T0);
    station.enqueue(packet(1, T0 + 20, new Uint8Array(3)), T0 + 20); // odd PCM16 length
    station.enqueue(packet(1, T0 + 21), T0 + 21); // the real one with that number
    station.enqueue(packet(1, T0 + 22), T0 + 22); // and a duplicate of it
    station.enqueue({ ...packet(2, T0 + 40), codec: CODEC_IDS.opus }, T0 + 40);
    station.tick(T0 + 40);
    expect(errors).toEqual(['bad_payload_length', 'codec_mismatch']);
    expect(station.stats().counters).toMatchObject({ frames_received: 5, decode_errors: 2, frames_out_of_order: 1 });
    expect(station.stages().clock).toMatchObject({ received: 3, duplicates: 1 });
  });

  describe('splices without a click', () => {
    /** A 430 Hz sine at -10 dBFS: 8.6 periods per 20 ms packet, so a frame taken out or put in breaks its phase. */
    const AMPLITUDE = 0.3;
    const sinePacket = (n: number): Uint8Array => {
      const pcm = new Int16Array(FRAME);
      for (let i = 0; i < FRAME; i++) pcm[i] = Math.round(AMPLITUDE * 32767 * Math.sin((2 * Math.PI * 430 * (n * FRAME + i)) / RATE));
      return new Uint8Array(pcm.buffer);
    };
    // The sine's own steepest step between samples; a click is a step well beyond it.
    const SINE_STEP = AMPLITUDE * 2 * Math.sin((Math.PI * 430) / RATE);

    for (const [name, rate, counter] of [['fast', 1.002, 'accelerate_dropped'], ['slow', 0.998, 'expand_inserted']] as const) {
      it(`sender 0.2 % ${name} for 3 minutes: the ${counter.replace('_', ' ')} frames leave no step beyond the sine's own`, () => {
        const h = harness();
        let last: number | null = null;
        let worst = 0;
        h.station.attachSink(0, {
          consume(frame) {
            for (let i = 0; i < frame.length; i++) {
              const x = frame.samples[i];
              if (last !== null) worst = Math.max(worst, Math.abs(x - last));
              last = x;
            }
          },
        });
        const packets = (3 * 60_000) / 20;
        let n = 0;
        const endMs = ((packets - 1) * 20) / rate + 10;
        for (let t = 0; t <= endMs; t += 10) {
          while (n < packets && (n * 20) / rate <= t) {
            const at = T0 + (n * 20) / rate;
            h.station.enqueue(packet(n, at, sinePacket(n)), at);
            n++;
          }
          h.station.tick(T0 + t);
        }
        h.station.end(T0 + endMs);
        const touched = Number(h.station.stages().clock[counter]);
        console.log(`0.2 % ${name}, 3 min: ${touched} frames ${counter === 'accelerate_dropped' ? 'dropped' : 'inserted'}; largest step ${worst.toFixed(4)} (the sine's own ${SINE_STEP.toFixed(4)})`);
        expect(touched).toBeGreaterThan(5);
        expect(worst).toBeLessThan(SINE_STEP * 1.5);
      });
    }
  });
});
