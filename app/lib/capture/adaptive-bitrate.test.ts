import { describe, expect, it } from 'vitest';
import { AdaptiveBitrateController, describeBitrateChange, type BitrateChange, type LinkSample } from './adaptive-bitrate.ts';

/** Feeds one sample a second from `fromS` for `seconds`, built by `sample(t)`; returns the changes. */
function run(c: AdaptiveBitrateController, fromS: number, seconds: number, sample: (tS: number) => Omit<LinkSample, 'atMs'>): BitrateChange[] {
  const out: BitrateChange[] = [];
  for (let t = fromS; t < fromS + seconds; t++) {
    const ch = c.update({ atMs: t * 1000, ...sample(t) });
    if (ch !== null) out.push(ch);
  }
  return out;
}

describe('AdaptiveBitrateController', () => {
  it('starts at the configured bitrate and keeps it while the link is clean', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    expect(c.bitrateBps).toBe(32_000);
    expect(run(c, 0, 60, () => ({ relayBackpressure: false, bufferedBytes: 0, lossFraction: 0 }))).toEqual([]);
    expect(c.bitrateBps).toBe(32_000);
  });

  it('cuts by 0.7 on relay backpressure, at most once per 2 s hold', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    const changes = run(c, 0, 4, () => ({ relayBackpressure: true }));
    expect(changes.map((x) => [x.atMs, x.fromBps, x.toBps, x.reason])).toEqual([
      [0, 32_000, 22_400, 'relay backpressure'],
      [2000, 22_400, 15_700, 'relay backpressure'],
    ]);
  });

  it('never goes below the 12 kbps floor', () => {
    const c = new AdaptiveBitrateController({ maxBps: 64_000 });
    run(c, 0, 60, () => ({ relayBackpressure: true }));
    expect(c.bitrateBps).toBe(12_000);
    // At the floor, further congestion changes nothing (no empty "12 -> 12" entries).
    expect(run(c, 60, 10, () => ({ relayBackpressure: true }))).toEqual([]);
  });

  it('counts a send buffer holding more than 500 ms of audio as congestion, measured at the current bitrate', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    // 32 kbps = 4000 bytes/s: 1900 bytes is 475 ms, 2100 is 525 ms.
    expect(c.update({ atMs: 0, bufferedBytes: 1900 })).toBeNull();
    const ch = c.update({ atMs: 1000, bufferedBytes: 2100 });
    expect(ch).toMatchObject({ fromBps: 32_000, toBps: 22_400, reason: 'send buffer backlog', detail: 525 });
    // The same bytes are more time at the lower rate: 1900 bytes at 22.4 kbps is 679 ms.
    expect(c.update({ atMs: 3000, bufferedBytes: 1900 })).toMatchObject({ reason: 'send buffer backlog', toBps: 15_700 });
  });

  it('cuts by 0.85 on moderate loss (2-5 %) and by 0.7 on heavy loss (> 5 %)', () => {
    const moderate = new AdaptiveBitrateController({ maxBps: 32_000 });
    expect(moderate.update({ atMs: 0, lossFraction: 0.019 })).toBeNull();
    expect(moderate.update({ atMs: 1000, lossFraction: 0.03 })).toMatchObject({ toBps: 27_200, reason: 'packet loss', detail: 3 });
    const heavy = new AdaptiveBitrateController({ maxBps: 32_000 });
    expect(heavy.update({ atMs: 0, lossFraction: 0.08 })).toMatchObject({ toBps: 22_400, reason: 'packet loss', detail: 8 });
  });

  it('raises by 1.1 steps only after 10 s clean, one step per 3 s, up to the configured bitrate', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    run(c, 0, 3, () => ({ relayBackpressure: true })); // cuts at 0 and 2 s: 15.7 kbps, last congested at 2 s
    expect(c.bitrateBps).toBe(15_700);
    const ups = run(c, 3, 60, () => ({ relayBackpressure: false, bufferedBytes: 0, lossFraction: 0.005 }));
    expect(ups[0].atMs).toBe(12_000); // 10 s after the last congested sample (2 s)
    expect(ups.every((u) => u.reason === 'link recovered')).toBe(true);
    for (let i = 1; i < ups.length; i++) expect(ups[i].atMs - ups[i - 1].atMs).toBe(3000);
    for (const u of ups) expect(u.toBps / u.fromBps).toBeLessThanOrEqual(1.1 + 1e-3);
    expect(ups.map((u) => u.toBps)).toEqual([17_200, 18_900, 20_700, 22_700, 24_900, 27_300, 30_000, 32_000]);
    expect(c.bitrateBps).toBe(32_000);
  });

  it('restarts the cooldown when congestion comes back during it', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    c.update({ atMs: 0, relayBackpressure: true });
    expect(run(c, 1, 8, () => ({}))).toEqual([]);
    // Backpressure again at 9 s (within the hold? no: 9 s after the cut): a second cut, and the clock restarts.
    expect(c.update({ atMs: 9000, relayBackpressure: true })).toMatchObject({ toBps: 15_700 });
    const ups = run(c, 10, 15, () => ({}));
    expect(ups[0].atMs).toBe(19_000);
  });

  it('neither cuts nor raises in the grey zone (a backlog between half and all of the threshold, loss 1-2 %)', () => {
    const c = new AdaptiveBitrateController({ maxBps: 32_000 });
    c.update({ atMs: 0, relayBackpressure: true });
    // 22.4 kbps = 2800 bytes/s; 1000 bytes = 357 ms (over 250, under 500).
    expect(run(c, 1, 30, () => ({ bufferedBytes: 1000 }))).toEqual([]);
    expect(run(c, 31, 30, () => ({ lossFraction: 0.015 }))).toEqual([]);
    expect(c.bitrateBps).toBe(22_400);
  });

  it('has nothing to adapt when the configured bitrate is under the floor', () => {
    const c = new AdaptiveBitrateController({ maxBps: 8_000 });
    expect(c.update({ atMs: 0, relayBackpressure: true })).toBeNull();
    expect(c.bitrateBps).toBe(8_000);
  });

  it('refuses a bitrate that is not a positive number', () => {
    expect(() => new AdaptiveBitrateController({ maxBps: 0 })).toThrow(/maxBps must be a positive number/);
    expect(() => new AdaptiveBitrateController({ maxBps: Number.NaN })).toThrow(TypeError);
    expect(() => new AdaptiveBitrateController({ maxBps: 32_000, minBps: -1 })).toThrow(/minBps/);
  });

  it('describes a change for the page log', () => {
    expect(describeBitrateChange({ fromBps: 32_000, toBps: 22_400, reason: 'relay backpressure', detail: null, atMs: 0 })).toBe('Bitrate: 32 → 22.4 kbps (relay backpressure)');
    expect(describeBitrateChange({ fromBps: 22_400, toBps: 19_000, reason: 'packet loss', detail: 3.5, atMs: 0 })).toBe('Bitrate: 22.4 → 19 kbps (packet loss 3.5%)');
    expect(describeBitrateChange({ fromBps: 32_000, toBps: 22_400, reason: 'send buffer backlog', detail: 700, atMs: 0 })).toBe('Bitrate: 32 → 22.4 kbps (send buffer backlog 700 ms)');
  });
});
