import { describe, expect, it } from 'vitest';
import { AbTransport } from './ab-transport.ts';

describe('AbTransport', () => {
  it('counts the position from the sources\' start on the context clock', () => {
    const t = new AbTransport(5);
    expect(t.positionS(10)).toBe(0);
    expect(t.start(10.03)).toBe(0);
    // Before the sources start, the position stays at the start offset.
    expect(t.positionS(10.01)).toBe(0);
    expect(t.positionS(11.03)).toBeCloseTo(1, 12);
  });

  it('wraps around the bucket while looping', () => {
    const t = new AbTransport(5);
    t.start(0);
    expect(t.positionS(7.5)).toBeCloseTo(2.5, 12);
    expect(t.positionS(15.25)).toBeCloseTo(0.25, 12);
    expect(t.ended(100)).toBe(false);
  });

  it('stops at the end without loop, and plays again from the start', () => {
    const t = new AbTransport(5, false);
    t.start(0);
    expect(t.positionS(7)).toBe(5);
    expect(t.ended(7)).toBe(true);
    t.pause(7);
    expect(t.start(8)).toBe(0);
    expect(t.positionS(9)).toBe(1);
  });

  it('pauses where it is and resumes from there', () => {
    const t = new AbTransport(5);
    t.start(2);
    t.pause(3.5);
    expect(t.playing).toBe(false);
    expect(t.positionS(100)).toBe(1.5);
    expect(t.start(200)).toBe(1.5);
    expect(t.positionS(201)).toBeCloseTo(2.5, 12);
  });

  it('seeks to a clamped offset, restarting the count at the new start', () => {
    const t = new AbTransport(5);
    t.start(0);
    expect(t.seek(4, 10)).toBe(4);
    expect(t.positionS(10.5)).toBeCloseTo(4.5, 12);
    expect(t.seek(-1, 11)).toBe(0);
    // The end of a looping bucket is its start.
    expect(t.seek(9, 12)).toBe(0);
    const once = new AbTransport(5, false);
    expect(once.seek(9, 0)).toBe(5);
    expect(() => t.seek(Number.NaN, 0)).toThrow(TypeError);
  });

  it('turns loop off without moving the position', () => {
    const t = new AbTransport(5);
    t.start(0);
    t.setLoop(false, 6);
    expect(t.positionS(6)).toBeCloseTo(1, 12);
    expect(t.positionS(9.5)).toBeCloseTo(4.5, 12);
    expect(t.ended(9.5)).toBe(false);
    expect(t.positionS(10.5)).toBe(5);
    expect(t.ended(10.5)).toBe(true);
  });

  it('refuses a duration that is not a positive number', () => {
    expect(() => new AbTransport(0)).toThrow(TypeError);
    expect(() => new AbTransport(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});
