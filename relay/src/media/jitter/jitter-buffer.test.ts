/**
 * The jitter buffer on simulated arrivals and a deterministic clock: a pull every packet
 * period of the receiver's clock, every arrival due by then pushed first. Network delay,
 * jitter and loss come from a seeded PRNG, so every figure printed here is reproducible.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../audio/signals.ts';
import { JitterBuffer, type JitterPacket } from './jitter-buffer.ts';

const PACKET_MS = 20;
/** Network delay every packet has at least, ms. */
const BASE_DELAY_MS = 30;
/** Pulls fall this far into the packet period, ms: arrivals never coincide with them. */
const PULL_PHASE_MS = 7;

interface Arrival {
  atMs: number;
  packet: JitterPacket<number>;
}

interface SimOptions {
  packets: number;
  firstSequence?: number;
  firstTimestampMs?: number;
  /** The sender's clock rate over ours: 1.001 runs 0.1 % fast. */
  senderRate?: number;
  /** Extra network delay of packet n, ms; null when it is lost. */
  extraDelayMs?: (n: number) => number | null;
  /** Packet n arrives a second time this much after the first, ms. */
  duplicateAfterMs?: (n: number) => number | null;
  /** Called after every pull. */
  onPull?: (jb: JitterBuffer<number>, nowMs: number) => void;
}

interface SimResult {
  jb: JitterBuffer<number>;
  /** Payloads (packet indices) in the order played. */
  played: number[];
  lossConceals: number;
  expandConceals: number;
  waits: number;
  /** Packets the network lost. */
  dropped: number;
}

/**
 * Sends packet n at n·20 ms of the sender's clock (n·20/senderRate of ours), plays until
 * the last packet is played (the network never loses the last one).
 */
function simulate(o: SimOptions): SimResult {
  const rate = o.senderRate ?? 1;
  const arrivals: Arrival[] = [];
  let dropped = 0;
  for (let n = 0; n < o.packets; n++) {
    const extra = o.extraDelayMs ? o.extraDelayMs(n) : 0;
    if (extra === null && n < o.packets - 1) {
      dropped++;
      continue;
    }
    const packet: JitterPacket<number> = {
      sequence: ((o.firstSequence ?? 0) + n) & 0xffff,
      timestampMs: ((o.firstTimestampMs ?? 0) + n * PACKET_MS) >>> 0,
      durationMs: PACKET_MS,
      payload: n,
    };
    const atMs = (n * PACKET_MS) / rate + BASE_DELAY_MS + (extra ?? 0);
    arrivals.push({ atMs, packet });
    const dup = o.duplicateAfterMs?.(n);
    if (dup != null) arrivals.push({ atMs: atMs + dup, packet });
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);

  const jb = new JitterBuffer<number>();
  const played: number[] = [];
  let lossConceals = 0;
  let expandConceals = 0;
  let waits = 0;
  let next = 0;
  const last = o.packets - 1;
  const endMs = arrivals[arrivals.length - 1].atMs + 2000;
  for (let nowMs = PULL_PHASE_MS; nowMs < endMs; nowMs += PACKET_MS) {
    while (next < arrivals.length && arrivals[next].atMs <= nowMs) {
      jb.push(arrivals[next].packet, arrivals[next].atMs);
      next++;
    }
    const d = jb.pull(nowMs);
    if (d.kind === 'packet') played.push(d.packet.payload);
    else if (d.kind === 'wait') waits++;
    else if (d.reason === 'loss') lossConceals++;
    else expandConceals++;
    o.onPull?.(jb, nowMs);
    if (played.length > 0 && played[played.length - 1] === last) break;
  }
  return { jb, played, lossConceals, expandConceals, waits, dropped };
}

function strictlyIncreasing(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] <= xs[i - 1]) return false;
  return true;
}

describe('JitterBuffer', () => {
  it('holds the 20 ms floor and plays every packet in order without jitter', () => {
    let maxTargetMs = 0;
    const r = simulate({ packets: 1500, onPull: (jb) => (maxTargetMs = Math.max(maxTargetMs, jb.targetMs)) });
    const c = r.jb.counters;
    console.log(`no jitter: target max ${maxTargetMs} ms, delay ${r.jb.currentDelayMs} ms, mean wait ${r.jb.figures().meanDelayMs?.toFixed(2)} ms, waits ${r.waits}`);
    expect(maxTargetMs).toBe(20);
    expect(r.played).toEqual(Array.from({ length: 1500 }, (_, n) => n));
    expect(c.lost + c.late + c.duplicates + c.accelerate + c.preemptiveExpand + c.overflow).toBe(0);
    // Play-out starts at the first pull at least 20 ms after the first arrival (37 ms).
    expect(r.waits).toBe(3);
    expect(r.jb.currentDelayMs).toBe(37);
  });

  it('follows 40 ms of uniform jitter up within 10 s and back down within 30 s of it stopping', () => {
    const rand = mulberry32(40);
    const jitterPackets = 500; // 10 s
    const injected: number[] = [];
    const extraDelayMs = (n: number): number => {
      if (n >= jitterPackets) return 0;
      const d = 40 * rand();
      injected.push(d);
      return d;
    };
    const targetAt = new Map<number, number>();
    let downAtMs = -1;
    const jitterEndMs = jitterPackets * PACKET_MS;
    const r = simulate({
      packets: jitterPackets + 2000,
      extraDelayMs,
      onPull: (jb, nowMs) => {
        const s = Math.floor((nowMs - PULL_PHASE_MS) / 1000);
        if ((nowMs - PULL_PHASE_MS) % 1000 === 0) targetAt.set(s, jb.targetMs);
        if (downAtMs < 0 && nowMs > jitterEndMs && jb.targetMs <= 25) downAtMs = nowMs - jitterEndMs;
      },
    });
    const sorted = [...injected].sort((a, b) => a - b);
    const p95 = sorted[Math.floor(0.95 * sorted.length)];
    const atJitterEnd = targetAt.get(10) as number;
    const c = r.jb.counters;
    console.log(
      `40 ms jitter: injected p95 ${p95.toFixed(1)} ms; target at 2/5/8/10 s ${[2, 5, 8, 10].map((s) => targetAt.get(s)?.toFixed(1)).join('/')} ms; ` +
        `<= 25 ms ${(downAtMs / 1000).toFixed(2)} s after the jitter stopped; lost ${c.lost}, late ${c.late}, reordered ${c.reordered}, ` +
        `accelerate ${c.accelerate}, preemptive expand ${c.preemptiveExpand}`,
    );
    expect(atJitterEnd).toBeGreaterThan(30);
    expect(atJitterEnd).toBeLessThan(60);
    expect(Math.abs(atJitterEnd - p95)).toBeLessThan(6);
    expect(downAtMs).toBeGreaterThan(0);
    expect(downAtMs).toBeLessThanOrEqual(30_000);
    expect(targetAt.get(45)).toBe(20);
    expect(strictlyIncreasing(r.played)).toBe(true);
    expect(r.played.length + c.lost + c.accelerate).toBe(jitterPackets + 2000);
  });

  it('conceals exactly the packets the network lost, 5 % of them', () => {
    const rand = mulberry32(5);
    const packets = 5000;
    const r = simulate({ packets, extraDelayMs: () => (rand() < 0.05 ? null : 0) });
    const c = r.jb.counters;
    console.log(`5 % loss: network lost ${r.dropped} of ${packets} (${((100 * r.dropped) / packets).toFixed(2)} %), counted lost ${c.lost}, loss conceals ${r.lossConceals}, concealment events ${c.concealmentEvents}`);
    expect(r.dropped / packets).toBeGreaterThan(0.04);
    expect(r.dropped / packets).toBeLessThan(0.06);
    expect(c.lost).toBe(r.dropped);
    expect(r.lossConceals).toBe(r.dropped);
    expect(r.expandConceals).toBe(0);
    expect(c.late).toBe(0);
    expect(strictlyIncreasing(r.played)).toBe(true);
    expect(r.played.length).toBe(packets - r.dropped);
  });

  it('plays reordered packets in order, counts duplicates, and discards a packet that comes after its play time', () => {
    const r = simulate({
      packets: 1000,
      // Every tenth packet comes 25 ms late (after the next one); packet 300 a second late.
      extraDelayMs: (n) => (n === 300 ? 1000 : n % 10 === 3 ? 25 : 0),
      duplicateAfterMs: (n) => (n % 7 === 0 ? 3 : null),
    });
    const c = r.jb.counters;
    console.log(`reorder: reordered ${c.reordered}, duplicates ${c.duplicates}, late ${c.late}, lost ${c.lost}, target ${r.jb.targetMs.toFixed(1)} ms`);
    expect(c.duplicates).toBe(Math.ceil(1000 / 7));
    expect(c.late).toBe(1);
    expect(c.lost).toBe(1);
    // The late one is discarded before it counts as reordered.
    expect(c.reordered).toBe(100);
    expect(r.played).not.toContain(300);
    expect(strictlyIncreasing(r.played)).toBe(true);
    expect(r.played.length).toBe(999);
  });

  for (const [name, rate, counter] of [
    ['fast', 1.001, 'accelerate'],
    ['slow', 0.999, 'preemptiveExpand'],
  ] as const) {
    it(`follows a sender clock 0.1 % ${name} for an hour with ${counter} decisions alone`, () => {
      let minOverMs = Infinity;
      let maxOverMs = -Infinity;
      let maxBufferedMs = 0;
      const packets = (3600 * 1000) / PACKET_MS;
      const r = simulate({
        packets,
        senderRate: rate,
        onPull: (jb) => {
          if (!jb.isPlaying || jb.currentDelayMs === null) return;
          const over = jb.currentDelayMs - jb.targetMs;
          minOverMs = Math.min(minOverMs, over);
          maxOverMs = Math.max(maxOverMs, over);
          maxBufferedMs = Math.max(maxBufferedMs, jb.bufferedMs);
        },
      });
      const c = r.jb.counters;
      console.log(
        `sender 0.1 % ${name}: accelerate ${c.accelerate}, preemptive expand ${c.preemptiveExpand}, delay − target in [${minOverMs.toFixed(2)}, ${maxOverMs.toFixed(2)}] ms, ` +
          `buffered max ${maxBufferedMs} ms, target ${r.jb.targetMs} ms, lost ${c.lost}, late ${c.late}, rebuffers ${c.rebuffers}, restarts ${c.restarts}`,
      );
      expect(c[counter]).toBeGreaterThanOrEqual(162);
      expect(c[counter]).toBeLessThanOrEqual(198);
      expect(c[counter === 'accelerate' ? 'preemptiveExpand' : 'accelerate']).toBe(0);
      expect(minOverMs).toBeGreaterThanOrEqual(-20);
      expect(maxOverMs).toBeLessThanOrEqual(40);
      expect(c.lost + c.late + c.rebuffers + c.restarts + c.overflow).toBe(0);
      expect(r.played.length + c.accelerate).toBe(packets);
      expect(strictlyIncreasing(r.played)).toBe(true);
    });
  }

  it('plays through the sequence wrap at 65535 and the 32-bit timestamp wrap', () => {
    const r = simulate({
      packets: 400,
      firstSequence: 65_400,
      firstTimestampMs: 2 ** 32 - 3000,
      // Sequence 65535 (n = 135) comes after 0, 1 after 2, and the packet at the timestamp
      // wrap (n = 150) after the next one.
      extraDelayMs: (n) => (n === 135 || n === 137 || n === 150 ? 25 : 0),
    });
    const c = r.jb.counters;
    console.log(`wrap: played ${r.played.length}, reordered ${c.reordered}, lost ${c.lost}, late ${c.late}`);
    expect(r.played).toEqual(Array.from({ length: 400 }, (_, n) => n));
    expect(c.reordered).toBe(3);
    expect(c.lost + c.late + c.invalid + c.restarts).toBe(0);
  });

  it('waits to refill after a pause instead of counting the whole pause as lost, and starts over when the sequence restarts', () => {
    const jb = new JitterBuffer<number>();
    const played: number[] = [];
    let conceals = 0;
    let waits = 0;
    // Three talk spurts of 100 packets: the second after a 5 s pause (sequence numbers go
    // on, media time jumps with the arrival time), the third after a restart of the
    // sender's counters (sequence 30000, another timestamp base).
    const spurts = [
      { startMs: 0, sequence: 0, timestampMs: 0 },
      { startMs: 7000, sequence: 100, timestampMs: 7000 },
      { startMs: 14000, sequence: 30000, timestampMs: 123_456 },
    ];
    const arrivals: { atMs: number; packet: JitterPacket<number> }[] = [];
    spurts.forEach((sp, i) => {
      for (let k = 0; k < 100; k++) {
        const packet = { sequence: sp.sequence + k, timestampMs: sp.timestampMs + k * PACKET_MS, durationMs: PACKET_MS, payload: i * 100 + k };
        arrivals.push({ atMs: sp.startMs + k * PACKET_MS + BASE_DELAY_MS, packet });
      }
    });
    let next = 0;
    for (let nowMs = PULL_PHASE_MS; nowMs < 17_000; nowMs += PACKET_MS) {
      while (next < arrivals.length && arrivals[next].atMs <= nowMs) jb.push(arrivals[next].packet, arrivals[next++].atMs);
      const d = jb.pull(nowMs);
      if (d.kind === 'packet') played.push(d.packet.payload);
      else if (d.kind === 'conceal') conceals++;
      else waits++;
    }
    const c = jb.counters;
    console.log(`pause and restart: played ${played.length}, conceals ${conceals}, rebuffers ${c.rebuffers}, restarts ${c.restarts}, invalid ${c.invalid}, late ${c.late}`);
    // The first packet of the restarted sequence is rejected by RFC 3550 A.1 (a jump), the second confirms the restart.
    expect(played).toEqual([...Array.from({ length: 200 }, (_, n) => n), ...Array.from({ length: 99 }, (_, k) => 201 + k)]);
    expect(c.invalid).toBe(1);
    expect(c.restarts).toBe(1);
    // Each end of a spurt: 200 ms (10 frames) concealed, then a wait for the refill.
    expect(c.rebuffers).toBe(3);
    expect(conceals).toBe(30);
    expect(c.late).toBe(0);
  });

  it('keeps a fixed ring: a burst beyond its capacity drops the oldest packets and counts them', () => {
    const jb = new JitterBuffer<number>({ capacity: 8 });
    // 20 packets in one burst, nothing pulled in between.
    for (let n = 0; n < 20; n++) jb.push({ sequence: n, timestampMs: n * PACKET_MS, durationMs: PACKET_MS, payload: n }, 1000);
    const played: number[] = [];
    for (let nowMs = 1000; nowMs < 1400; nowMs += PACKET_MS) {
      const d = jb.pull(nowMs);
      if (d.kind === 'packet') played.push(d.packet.payload);
    }
    expect(jb.counters.overflow).toBe(12);
    expect(played).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    expect(() => new JitterBuffer({ capacity: 48 })).toThrow(TypeError);
  });

  it('holds at most `limit` packets, dropping the oldest; refuses a limit beyond the capacity', () => {
    const jb = new JitterBuffer<number>({ capacity: 16, limit: 10 });
    for (let n = 0; n < 15; n++) jb.push({ sequence: n, timestampMs: n * PACKET_MS, durationMs: PACKET_MS, payload: n }, 1000);
    expect(jb.heldPackets).toBe(10);
    expect(jb.counters.overflow).toBe(5);
    const drained: number[] = [];
    jb.drain((p) => drained.push(p.payload));
    expect(drained).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(jb.heldPackets).toBe(0);
    expect(() => new JitterBuffer({ capacity: 8, limit: 9 })).toThrow(TypeError);
  });

  it('drains what it holds in order at the end, handing each missing packet on as a loss to conceal in its place', () => {
    const jb = new JitterBuffer<number>();
    for (const n of [0, 1, 3, 4, 7]) jb.push({ sequence: n, timestampMs: n * PACKET_MS, durationMs: PACKET_MS, payload: n }, 1000 + n * PACKET_MS);
    const out: (number | string)[] = [];
    jb.drain(
      (p) => out.push(p.payload),
      (ms) => out.push(`lost ${ms} ms`),
    );
    expect(out).toEqual([0, 1, 'lost 20 ms', 3, 4, 'lost 20 ms', 'lost 20 ms', 7]);
    expect(jb.counters.lost).toBe(3);
    expect(jb.heldPackets).toBe(0);
  });

  it('keeps the target within the bounds it is given', () => {
    const jb = new JitterBuffer<number>({ minTargetMs: 40, maxTargetMs: 60 });
    expect(jb.targetMs).toBe(40);
    // Packets up to 150 ms late: the 95 % quantile is far above 60 ms.
    for (let n = 0; n < 500; n++) jb.push({ sequence: n, timestampMs: n * PACKET_MS, durationMs: PACKET_MS, payload: n }, n * PACKET_MS + (n % 10) * 15);
    expect(jb.targetMs).toBe(60);
    expect(() => new JitterBuffer({ minTargetMs: 60, maxTargetMs: 40 })).toThrow(RangeError);
  });

  it('after running dry, discards packets whose time it concealed when they come within keepConcealedMs, and replays them after', () => {
    const run = (resumeAtMs: number) => {
      const jb = new JitterBuffer<number>({ keepConcealedMs: 800 });
      const played: number[] = [];
      let next = 0;
      // 50 packets on time, then the next 50 held up and arriving at once at resumeAtMs.
      const arrival = (n: number): number => (n < 50 ? n * PACKET_MS + BASE_DELAY_MS : resumeAtMs);
      for (let nowMs = PULL_PHASE_MS; nowMs < resumeAtMs + 2000; nowMs += PACKET_MS) {
        while (next < 100 && arrival(next) <= nowMs) jb.push({ sequence: next, timestampMs: next * PACKET_MS, durationMs: PACKET_MS, payload: next }, arrival(next++));
        const d = jb.pull(nowMs);
        if (d.kind === 'packet') played.push(d.packet.payload);
      }
      return { jb, played };
    };
    // Back 500 ms after the stop (within 800 ms): the 10 packets concealed before it are late.
    const soon = run(50 * PACKET_MS + 700);
    // (One stop for the hold-up, one after the last packet.)
    expect(soon.jb.counters.rebuffers).toBe(2);
    expect(soon.jb.counters.late).toBe(10);
    expect(soon.played).toEqual([...Array.from({ length: 50 }, (_, n) => n), ...Array.from({ length: 40 }, (_, k) => 60 + k)]);
    // Back 3 s later: a pause, played from where the sender resumed.
    const later = run(50 * PACKET_MS + 3000);
    expect(later.jb.counters.late).toBe(0);
    expect(later.played).toEqual(Array.from({ length: 100 }, (_, n) => n));
  });
});
