import { describe, expect, it } from 'vitest';
import { StatsBlock } from './stats-block.ts';

describe('StatsBlock', () => {
  it('reads nothing before the first publication, then the latest set, exactly (Float64)', () => {
    const buffers = StatsBlock.allocate(3);
    const writer = new StatsBlock(buffers);
    const reader = new StatsBlock(buffers);
    const out = new Float64Array(3);
    expect(reader.read(out)).toBe(-1);
    writer.publish(Float64Array.of(1, 2, 3));
    writer.publish(Float64Array.of(2 ** 40 + 1, -0.5, 7));
    expect(reader.read(out)).toBe(4);
    expect(Array.from(out)).toEqual([2 ** 40 + 1, -0.5, 7]);
  });

  it('rejects a length that is not a positive integer', () => {
    expect(() => StatsBlock.allocate(0)).toThrow(RangeError);
  });
});
