import { describe, expect, it } from 'vitest';
import { EndedStreams } from './ended-streams.ts';

describe('EndedStreams', () => {
  it('answers for an ended stream during the grace, and not from its end plus the grace on', () => {
    const e = new EndedStreams<string>(60_000);
    e.add('a', 'station a', 'stop', 1000);
    expect(e.get('a', 1000)).toEqual({ subject: 'station a', reason: 'stop', endedAtMs: 1000 });
    expect(e.get('a', 60_999)?.reason).toBe('stop');
    expect(e.get('a', 61_000)).toBeUndefined();
    expect(e.size).toBe(0);
    expect(e.get('never', 1000)).toBeUndefined();
  });

  it('expires in the order the stations ended, one grace after each', () => {
    const e = new EndedStreams<number>(100);
    e.add('a', 1, 'stop', 0);
    e.add('b', 2, 'idle', 50);
    e.add('c', 3, 'disconnect', 90);
    expect(e.get('b', 120)?.subject).toBe(2);
    expect(e.size).toBe(2); // a went at 100
    expect(e.get('c', 150)?.subject).toBe(3);
    expect(e.size).toBe(1);
    expect(e.get('c', 190)).toBeUndefined();
  });

  it('holds at most maxEntries, forgetting the oldest early and counting it', () => {
    const e = new EndedStreams<number>(60_000, 3);
    for (let i = 0; i < 5; i++) e.add(`s${i}`, i, 'stop', i);
    expect(e.size).toBe(3);
    expect(e.evictedEarly).toBe(2);
    expect(e.get('s0', 10)).toBeUndefined();
    expect(e.get('s1', 10)).toBeUndefined();
    expect(e.get('s4', 10)?.subject).toBe(4);
  });

  it('refuses a negative grace and a zero size', () => {
    expect(() => new EndedStreams(-1)).toThrow(TypeError);
    expect(() => new EndedStreams(1, 0)).toThrow(TypeError);
  });
});
