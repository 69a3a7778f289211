/**
 * A waveform as a canvas draws it: per pixel column, the lowest and highest sample of the
 * stretch of audio under it, so a 5 s segment (240 000 samples at 48 kHz) becomes a few
 * hundred pairs and no peak is lost between columns (a decimated waveform would miss them).
 */

/**
 * Min and max of `samples` per column: out[2c] is column c's min, out[2c + 1] its max.
 * Columns beyond the samples (more columns than samples) repeat the sample under them.
 */
export function minMaxColumns(samples: Float32Array, columns: number, out = new Float32Array(2 * columns)): Float32Array {
  if (!Number.isInteger(columns) || columns < 1) throw new TypeError(`columns must be a positive integer, got ${columns}`);
  if (out.length < 2 * columns) throw new TypeError(`out holds ${out.length} values, needs ${2 * columns}`);
  const n = samples.length;
  for (let c = 0; c < columns; c++) {
    if (n === 0) {
      out[2 * c] = 0;
      out[2 * c + 1] = 0;
      continue;
    }
    const from = Math.floor((c * n) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * n) / columns));
    let lo = samples[from];
    let hi = lo;
    for (let i = from + 1; i < to; i++) {
      const v = samples[i];
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
    }
    out[2 * c] = lo;
    out[2 * c + 1] = hi;
  }
  return out;
}
