/** The recorded clock: packets go on at once, buckets complete by capture time, all of them at the end. */
import { describe, expect, it } from 'vitest';
import type { PacketView } from './packet-batch.ts';
import { RecordedClock } from './recorded-clock.ts';

describe('RecordedClock', () => {
  it('passes every packet on at once and keeps time by the latest capture time', () => {
    const seen: number[] = [];
    const c = new RecordedClock({ process: (p) => seen.push(p.sequence), discontinuity: () => undefined, stats: () => ({}) });
    const captured = Date.parse('2026-01-01T10:00:00.000Z');
    for (let n = 0; n < 500; n++) c.push({ stationId: 1, timestampMs: n * 20, sequence: n, codec: 1, flags: 0, arrivalMs: captured + n * 20, payload: new Uint8Array(2), mediaMs: 0 });
    expect(seen).toHaveLength(500);
    expect(c.depth).toBe(0);
    expect(c.counters).toEqual({ frames_received: 500, bytes_received: 1000, frames_dropped: 0 });
    expect(c.now(Date.now())).toBe(captured + 499 * 20);
    c.end();
    expect(c.now(Date.now())).toBe(Infinity);
  });
});
