/**
 * The live clock on its own, on a deterministic clock: packets go on at the media rate
 * from the playout gate's origin, a sender ahead of real time loses its oldest packets
 * (told so once a second), late packets go on at once, and a burst of due packets larger
 * than the queue is played, not dropped.
 */
import { describe, expect, it } from 'vitest';
import { LiveClock } from './live-clock.ts';
import type { PacketView } from './packet-batch.ts';
import type { PacketStage } from './stage.ts';

const T0 = 1_000_000;

/** The next stage: what the clock released, and the discontinuities it signalled; plays 20 ms per packet. */
class Player implements PacketStage {
  readonly released: number[] = [];
  discontinuities: number[] = [];
  process(p: PacketView): void {
    this.released.push(p.sequence);
  }
  discontinuity(): void {
    this.discontinuities.push(this.released.length);
  }
  get playedMs(): number {
    return this.released.length * 20;
  }
  stats() {
    return {};
  }
}

const packet = (seq: number, arrivalMs: number): PacketView => ({ stationId: 1, timestampMs: seq * 20, sequence: seq, codec: 1, flags: 0, arrivalMs, payload: new Uint8Array(4), mediaMs: 0 });

function clock(queueFrames = 48) {
  const player = new Player();
  const statuses: [string, number, number][] = [];
  const c = new LiveClock({ queueFrames, jitterAllowanceMs: 60 }, player, () => player.playedMs, (s, d, q) => statuses.push([s, d, q]));
  return { c, player, statuses };
}

describe('LiveClock', () => {
  it('releases a real-time sender\'s packets as they come', () => {
    const { c, player } = clock();
    for (let n = 0; n < 100; n++) {
      c.push(packet(n, T0 + n * 20), T0 + n * 20);
      c.release(T0 + n * 20);
      expect(player.released.length).toBe(n + 1);
    }
    expect(c.depth).toBe(0);
    expect(c.counters).toEqual({ frames_received: 100, bytes_received: 400, frames_dropped: 0 });
  });

  it('holds a sender that is ahead of real time to the media rate, dropping its oldest packets', () => {
    const { c, player, statuses } = clock();
    for (let n = 0; n < 200; n++) {
      c.push(packet(n, T0 + n * 5), T0 + n * 5); // four times real time
      c.tick(T0 + n * 5);
    }
    // 1 s of wall time let through 1 s of audio plus the gate's 500 ms head start and the 60 ms allowance.
    expect(player.released.length).toBeGreaterThanOrEqual(78);
    expect(player.released.length).toBeLessThanOrEqual(79);
    expect(c.depth).toBe(48);
    expect(c.counters.frames_dropped).toBe(200 - 48 - player.released.length);
    // The oldest were dropped: the queue holds the newest, and the decoder is told of each gap.
    expect(player.discontinuities.length).toBe(c.counters.frames_dropped);
    expect(statuses[0]).toEqual(['backpressure', expect.any(Number), 48]);
    for (let ms = 1000; ms <= 4000; ms += 10) c.tick(T0 + ms);
    expect(c.depth).toBe(0);
    expect(statuses.at(-1)?.[0]).toBe('ok');
  });

  it('plays a burst of due packets larger than the queue without dropping any', () => {
    const { c, player } = clock(8);
    c.push(packet(0, T0), T0);
    c.release(T0);
    // 30 packets held up 600 ms on the way arrive at once.
    for (let n = 1; n <= 30; n++) c.push(packet(n, T0 + 620), T0 + 620);
    c.release(T0 + 620);
    expect(c.counters.frames_dropped).toBe(0);
    expect(player.released).toEqual(Array.from({ length: 31 }, (_, i) => i));
  });

  it('follows the earliest arrival: a late first packet does not hold later ones back', () => {
    const { c, player } = clock();
    c.push(packet(0, T0 + 300), T0 + 300); // the first packet was 300 ms late
    c.release(T0 + 300);
    for (let n = 1; n < 10; n++) {
      c.push(packet(n, T0 + n * 20), T0 + 300);
      c.release(T0 + 300);
    }
    expect(player.released.length).toBe(10);
  });

  it('lets everything go at the end', () => {
    const { c, player } = clock();
    for (let n = 0; n < 40; n++) c.push(packet(n, T0), T0);
    c.end();
    expect(player.released.length).toBe(40);
    expect(c.now(T0 + 5)).toBe(T0 + 5);
  });
});
