/**
 * The visible x range of a history chart, moved by keys and the wheel: pure arithmetic on
 * [min, max] within the data's [lo, hi] (seconds), so the chart component only wires events
 * to `setScale`. A view never leaves the data and never grows beyond it.
 */
export interface XRange {
  min: number;
  max: number;
}

/** Share of the visible range one arrow key or wheel notch moves it. */
export const PAN_STEP_FRACTION = 1 / 8;
/** Narrowest view, s: a handful of 5 s buckets. */
export const MIN_VIEW_S = 60;

/** The view moved by `fraction` of its width (negative: earlier), kept inside [lo, hi]. */
export function panRange(view: XRange, data: XRange, fraction: number): XRange {
  const width = Math.min(view.max - view.min, data.max - data.min);
  let min = view.min + fraction * width;
  min = Math.max(data.min, Math.min(min, data.max - width));
  return { min, max: min + width };
}

/** The view scaled by `factor` (below 1: zoom in) around its middle, kept inside the data. */
export function zoomRange(view: XRange, data: XRange, factor: number): XRange {
  const full = data.max - data.min;
  const width = Math.min(full, Math.max(Math.min(MIN_VIEW_S, full), (view.max - view.min) * factor));
  const mid = (view.min + view.max) / 2;
  return panRange({ min: mid - width / 2, max: mid + width / 2 }, data, 0);
}

/** Whether `view` shows all of the data (then the chart follows new buckets again). */
export function coversAll(view: XRange, data: XRange): boolean {
  return view.min <= data.min && view.max >= data.max;
}
