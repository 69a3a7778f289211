import { describe, expect, it } from 'vitest';
import { Backoff, closeAction } from './reconnect.ts';

describe('Backoff', () => {
  it('doubles from 500 ms to a 15 s cap, each delay between half and all of its step', () => {
    const b = new Backoff();
    const lows = Array.from({ length: 8 }, () => b.next(() => 0));
    expect(lows).toEqual([250, 500, 1000, 2000, 4000, 7500, 7500, 7500]);
    b.reset();
    const highs = Array.from({ length: 8 }, () => b.next(() => 0.999999));
    highs.forEach((h, i) => expect(h / (lows[i] * 2)).toBeCloseTo(1, 5));
    expect(b.attempts).toBe(8);
  });

  it('spreads listeners dropped together over the window (jitter)', () => {
    const delays = Array.from({ length: 200 }, () => new Backoff().next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...delays)).toBeLessThan(500);
    expect(new Set(delays.map((d) => Math.round(d / 25))).size).toBeGreaterThan(5);
  });

  it('starts over after a reset', () => {
    const b = new Backoff({ initialMs: 100 });
    b.next();
    b.next();
    b.reset();
    expect(b.next(() => 0)).toBe(50);
  });

  it('rejects impossible options', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 1000, maxMs: 10 })).toThrow(RangeError);
  });
});

describe('closeAction', () => {
  it('ends after stream_end whatever the code', () => {
    expect(closeAction(1000, '', true).action).toBe('ended');
    expect(closeAction(1006, '', true).action).toBe('ended');
  });

  it('gives up on an unknown stream or a refused request: trying again cannot help', () => {
    expect(closeAction(4404, 'not found', false)).toEqual({ action: 'fatal', why: 'no such stream, or it has ended (4404: not found)' });
    expect(closeAction(1008, '', false).action).toBe('fatal');
    expect(closeAction(1009, 'message too big', false).action).toBe('fatal');
  });

  it('reconnects after a dropped connection, a full relay, a restart or falling behind', () => {
    for (const code of [1006, 1013, 1001, 4008, 1011, 1000]) expect(closeAction(code, '', false).action).toBe('reconnect');
  });
});
