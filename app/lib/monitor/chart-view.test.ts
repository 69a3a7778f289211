import { describe, expect, it } from 'vitest';
import { coversAll, panRange, zoomRange } from './chart-view';

const DATA = { min: 0, max: 43_200 };

describe('history chart view', () => {
  it('pans by a share of the view and stops at the edges of the data', () => {
    expect(panRange({ min: 0, max: 5400 }, DATA, 1 / 8)).toEqual({ min: 675, max: 6075 });
    expect(panRange({ min: 100, max: 5500 }, DATA, -1)).toEqual({ min: 0, max: 5400 });
    expect(panRange({ min: 40_000, max: 42_000 }, DATA, 1)).toEqual({ min: 41_200, max: 43_200 });
    expect(panRange({ min: 9000, max: 10_000 }, DATA, -Infinity)).toEqual({ min: 0, max: 1000 });
    expect(panRange({ min: 9000, max: 10_000 }, DATA, Infinity)).toEqual({ min: 42_200, max: 43_200 });
  });

  it('zooms around the middle, never narrower than a minute nor wider than the data', () => {
    expect(zoomRange({ min: 0, max: 43_200 }, DATA, 0.5)).toEqual({ min: 10_800, max: 32_400 });
    expect(zoomRange({ min: 1000, max: 1100 }, DATA, 0.1)).toEqual({ min: 1020, max: 1080 });
    expect(zoomRange({ min: 10_000, max: 30_000 }, DATA, 4)).toEqual(DATA);
    expect(coversAll(zoomRange({ min: 10_000, max: 30_000 }, DATA, 4), DATA)).toBe(true);
    expect(coversAll({ min: 1, max: 43_200 }, DATA)).toBe(false);
  });
});
