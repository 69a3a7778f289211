import { describe, expect, it } from 'vitest';
import { LatencyController, LiveEdge, startPosition, trimRange } from './latency-controller.ts';

const view = (latency: number, ahead = latency) => ({ currentTime: 100, bufferedStart: 90, bufferedEnd: 100 + ahead, liveEdge: 100 + latency });

describe('LatencyController', () => {
  it('plays at 1 near the target', () => {
    const c = new LatencyController({ targetS: 1 });
    expect(c.decide(view(1.0))).toEqual({ playbackRate: 1, seekTo: null, latencyS: 1 });
    expect(c.decide(view(1.2)).playbackRate).toBe(1);
  });

  it('speeds up between 1.02 and 1.05 when behind, more the further behind', () => {
    const c = new LatencyController({ targetS: 1 });
    const a = c.decide(view(1.3)).playbackRate;
    c.reset();
    const b = c.decide(view(1.9)).playbackRate;
    expect(a).toBeGreaterThanOrEqual(1.02);
    expect(a).toBeLessThan(b);
    expect(b).toBeLessThanOrEqual(1.05);
  });

  it('keeps catching up until within 50 ms of the target (hysteresis), then plays at 1', () => {
    const c = new LatencyController({ targetS: 1 });
    expect(c.decide(view(1.4)).playbackRate).toBeGreaterThan(1);
    expect(c.decide(view(1.1)).playbackRate).toBe(1.02);
    expect(c.decide(view(1.04)).playbackRate).toBe(1);
    expect(c.decide(view(1.1)).playbackRate).toBe(1);
  });

  it('slows to 0.97 when well under the target (a reconnection skipped audio) until back near it', () => {
    const c = new LatencyController({ targetS: 1 });
    expect(c.decide(view(0.8)).playbackRate).toBe(1);
    expect(c.decide(view(0.6)).playbackRate).toBe(0.97);
    expect(c.decide(view(0.9)).playbackRate).toBe(0.97);
    expect(c.decide(view(0.96)).playbackRate).toBe(1);
  });

  it('seeks to target before the newest audio when more than 2 s behind', () => {
    const c = new LatencyController({ targetS: 1 });
    const d = c.decide({ currentTime: 100, bufferedStart: 95, bufferedEnd: 102.4, liveEdge: 102.6 });
    expect(d.seekTo).toBeCloseTo(101.4, 9);
    expect(d.playbackRate).toBe(1);
  });

  it('with a larger buffer, seeks only past target + 1 s', () => {
    const c = new LatencyController({ targetS: 3 });
    expect(c.seekBehindS).toBe(4);
    expect(c.decide(view(3.9)).seekTo).toBeNull();
    expect(c.decide(view(4.1)).seekTo).not.toBeNull();
  });

  it('brings a listener 1.9 s behind back to the target without a seek (clusters of 0.5 s)', () => {
    const c = new LatencyController({ targetS: 1 });
    // Simulated: the live edge moves at 1; playback moves at the chosen rate; 250 ms ticks.
    let live = 10;
    let t = 8.1;
    let seeks = 0;
    let rate = 1;
    for (let tick = 0; tick < 4 * 120; tick++) {
      live += 0.25;
      t += 0.25 * rate;
      const d = c.decide({ currentTime: t, bufferedStart: 0, bufferedEnd: Math.floor(live * 2) / 2, liveEdge: live });
      if (d.seekTo !== null) seeks++;
      rate = d.playbackRate;
    }
    expect(seeks).toBe(0);
    expect(live - t).toBeLessThan(1.06);
    expect(live - t).toBeGreaterThan(0.99);
  });
});

describe('startPosition / trimRange', () => {
  it('starts target before the newest audio, never before the oldest', () => {
    expect(startPosition(10, 14, 1)).toBe(13);
    expect(startPosition(10, 10.5, 1)).toBe(10);
  });

  it('trims what is over 10 s behind the playhead, in steps of at least 5 s', () => {
    expect(trimRange(14, 0)).toBeNull();
    expect(trimRange(15, 0)).toEqual({ start: 0, end: 5 });
    expect(trimRange(30, 5)).toEqual({ start: 5, end: 20 });
    expect(trimRange(30, 17)).toBeNull();
  });
});

describe('LiveEdge', () => {
  it('is the last appended end, moved on by the time since it arrived', () => {
    const e = new LiveEdge();
    expect(e.at(0)).toBeNull();
    e.appended(5, 1000);
    expect(e.at(1000)).toBe(5);
    expect(e.at(1750)).toBe(5.75);
    expect(e.at(900)).toBe(5);
    e.reset();
    expect(e.at(2000)).toBeNull();
  });
});
