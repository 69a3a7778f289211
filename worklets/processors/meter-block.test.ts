import { describe, expect, it } from 'vitest';
import { METER, METER_VALUES, MeterBlock } from './meter-block.ts';

describe('MeterBlock', () => {
  it('reads nothing before the first publication, then the latest reading', () => {
    const block = new MeterBlock(MeterBlock.allocate());
    const out = new Float32Array(METER_VALUES);
    expect(block.read(out)).toBe(-1);
    const r = new Float32Array(METER_VALUES);
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
    const r = new Float32Array(METER_VALUES).fill(3);
    writer.publish(r);
    const out = new Float32Array(METER_VALUES);
    expect(reader.read(out)).toBe(2);
    expect(Array.from(out)).toEqual(Array.from(r));
  });
});
