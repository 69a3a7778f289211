/**
 * Transport quality on a deterministic clock: exact loss from sequence gaps over the
 * window, RFC 3550 jitter against figures worked out by hand, late packets taking their
 * loss back, and restarts of the sender's counters kept out of both.
 */
import { describe, expect, it } from 'vitest';
import { TransportQuality, transportQualityJson } from './transport-quality.ts';

const T0 = 5_000_000;

/** Feeds n packets of 20 ms, sent on time, with `delayMs(n)` of network delay; `lost(n)` are never sent. */
function feed(q: TransportQuality, from: number, count: number, delayMs: (n: number) => number = () => 0, lost: (n: number) => boolean = () => false): void {
  for (let n = from; n < from + count; n++) {
    const sentMs = T0 + n * 20;
    if (!lost(n)) q.observe(n & 0xffff, (n * 20) >>> 0, sentMs + delayMs(n));
    if ((n + 1) % 50 === 0) q.roll(sentMs + 20);
  }
}

describe('TransportQuality', () => {
  it('reads no loss and no jitter from a clean stream', () => {
    const q = new TransportQuality();
    q.roll(T0);
    feed(q, 0, 500, () => 7);
    expect(q.figures()).toEqual({ lossPercent: 0, jitterMs: 0, expected: 500, received: 500, windowS: 10 });
  });

  it('counts every tenth packet lost as exactly 10 %', () => {
    const q = new TransportQuality();
    q.roll(T0);
    feed(q, 0, 500, () => 0, (n) => n % 10 === 5);
    const f = q.figures();
    expect(f.expected).toBe(500);
    expect(f.received).toBe(450);
    expect(f.lossPercent).toBeCloseTo(10, 9);
    // The gaps move no packet in time: no jitter.
    expect(f.jitterMs).toBe(0);
  });

  it('measures loss over the last window only', () => {
    const q = new TransportQuality({ windowS: 10 });
    q.roll(T0);
    // 10 s with 20 % loss, then 12 s clean: the window (10 s) holds only clean seconds.
    feed(q, 0, 500, () => 0, (n) => n % 5 === 1);
    expect(q.figures().lossPercent).toBeCloseTo(20, 9);
    feed(q, 500, 600);
    expect(q.figures()).toMatchObject({ lossPercent: 0, expected: 500, received: 500 });
  });

  it('follows RFC 3550 §6.4.1: J += (|D| − J)/16', () => {
    const q = new TransportQuality();
    // Delays 0, 16, 0, 16, ...: |D| = 16 from the second packet on.
    const delays = (n: number): number => (n % 2) * 16;
    feed(q, 0, 3, delays);
    // J1 = 16/16 = 1; J2 = 1 + (16 − 1)/16 = 1.9375.
    expect(q.figures().jitterMs).toBeCloseTo(1.9375, 12);
    feed(q, 3, 400, delays);
    // Converges on |D| = 16 ms.
    expect(q.figures().jitterMs).toBeCloseTo(16, 6);
    // A constant delay, however long, is no jitter: it decays by 15/16 per packet.
    feed(q, 403, 400, () => 250);
    expect(q.figures().jitterMs).toBeLessThan(0.01);
  });

  it('takes a late packet\'s loss back and ignores duplicates', () => {
    const q = new TransportQuality();
    for (const seq of [0, 1, 3, 4]) q.observe(seq, seq * 20, T0 + seq * 20);
    expect(q.figures()).toMatchObject({ expected: 5, received: 4, lossPercent: 20 });
    q.observe(2, 40, T0 + 90); // 2 arrives after 4
    expect(q.figures()).toMatchObject({ expected: 5, received: 5, lossPercent: 0 });
    q.observe(4, 80, T0 + 95); // a duplicate
    expect(q.figures()).toMatchObject({ expected: 5, received: 6, lossPercent: 0 });
  });

  it('follows the sequence across its wrap and takes a sender restart as a new baseline', () => {
    const q = new TransportQuality();
    feed(q, 65_530, 12);
    expect(q.figures()).toMatchObject({ expected: 12, received: 12, lossPercent: 0 });
    // The sender restarts its counters (sequence 0, timestamp 0) an hour into its clock.
    q.observe(0, 0, T0 + 65_542 * 20);
    q.observe(1, 20, T0 + 65_543 * 20);
    expect(q.figures()).toMatchObject({ expected: 14, received: 14, lossPercent: 0 });
    expect(q.figures().jitterMs).toBe(0);
    expect(q.stats().resets).toBe(1);
  });

  it('says null before it knows', () => {
    const q = new TransportQuality();
    expect(q.figures()).toEqual({ lossPercent: null, jitterMs: null, expected: 0, received: 0, windowS: 10 });
    q.observe(7, 140, T0);
    expect(q.figures()).toEqual({ lossPercent: 0, jitterMs: null, expected: 1, received: 1, windowS: 10 });
    expect(() => new TransportQuality({ windowS: 0 })).toThrow(RangeError);
  });

  it('reports the figures with the loss-only MOS, rounded, latency null', () => {
    expect(transportQualityJson({ lossPercent: 10, jitterMs: 12.3456, expected: 500, received: 450, windowS: 10 })).toEqual({
      window_s: 10,
      loss_percent: 10,
      jitter_ms: 12.35,
      latency_ms: null,
      mos: 3.65,
    });
    expect(transportQualityJson({ lossPercent: null, jitterMs: null, expected: 0, received: 0, windowS: 10 })).toMatchObject({ loss_percent: null, mos: null });
  });
});
