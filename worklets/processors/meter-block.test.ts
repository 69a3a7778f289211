import { describe, expect, it } from 'vitest';
import { METER, METER_VALUES, MeterBlock } from './meter-block.ts';

describe('MeterBlock', () => {
  it('reads nothing before the first publication, then the latest reading', () => {
    const block = new MeterBlock(MeterBlock.allocate());
    const out = new Float64Array(METER_VALUES);
    expect(block.read(out)).toBe(-1);
    const r = new Float64Array(METER_VALUES);
    r[METER.rmsDbfs] = -15;
    r[METER.peakDbfs] = -12;
    block.publish(r);
    r[METER.rmsDbfs] = -20;
    block.publish(r);
    const seq = block.read(out);
    expect(seq).toBe(4);
    expect(out[METER.rmsDbfs]).toBe(-20);
    expect(out[METER.peakDbfs]).toBe(-12);
  });

  it('shares readings between views of the same buffers (as worklet and page do)', () => {
    const buffers = MeterBlock.allocate();
    const writer = new MeterBlock(buffers);
    const reader = new MeterBlock(buffers);
    const r = new Float64Array(METER_VALUES).fill(3);
    writer.publish(r);
    const out = new Float64Array(METER_VALUES);
    expect(reader.read(out)).toBe(2);
    expect(Array.from(out)).toEqual(Array.from(r));
  });

  it('gives every field its own slot inside the block', () => {
    const slots = Object.values(METER);
    expect(new Set(slots).size).toBe(slots.length);
    expect(Math.min(...slots)).toBe(0);
    expect(Math.max(...slots)).toBe(METER_VALUES - 1);
  });

  it('keeps sample counts past 2^24 exact and "no value yet" (NaN) as it is', () => {
    const block = new MeterBlock(MeterBlock.allocate());
    const r = new Float64Array(METER_VALUES);
    r[METER.totalSamples] = 2 ** 24 + 1;
    r[METER.integratedLufs] = Number.NaN;
    block.publish(r);
    const out = new Float64Array(METER_VALUES);
    block.read(out);
    expect(out[METER.totalSamples]).toBe(2 ** 24 + 1);
    expect(Number.isNaN(out[METER.integratedLufs])).toBe(true);
  });

  it('refuses buffers of another size (a page and a worklet built from different layouts)', () => {
    expect(() => new MeterBlock({ seq: new SharedArrayBuffer(4), values: new SharedArrayBuffer(7 * 4) })).toThrow(RangeError);
  });
});
