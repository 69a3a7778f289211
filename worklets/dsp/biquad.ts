/**
 * A second-order IIR section and the coefficient designs the kernels need.
 *
 * Transfer function (a0 normalized to 1):
 *   H(z) = (b0 + b1·z⁻¹ + b2·z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²)
 * Realized as transposed direct form II with Float64 state: two state variables, and for
 * the low-frequency poles of the K-weighting high-pass (radius ≈ 0.995 at 48 kHz) double
 * precision keeps the round-off noise far below the -120 dB floor.
 */

export interface BiquadCoefficients {
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;
}

/**
 * State magnitude below which it is flushed to zero at the end of a block (-300 dB). After
 * seconds of digital silence a decaying state would otherwise reach subnormal doubles, which
 * x86 processes through slow microcode assists. The same test turns a NaN state (from a NaN
 * sample) back into 0, so one bad sample costs one block, not the rest of the stream.
 */
export const STATE_FLUSH = 1e-15;

export class Biquad {
  private b0 = 1;
  private b1 = 0;
  private b2 = 0;
  private a1 = 0;
  private a2 = 0;
  private z1 = 0;
  private z2 = 0;

  constructor(c?: BiquadCoefficients) {
    if (c) this.setCoefficients(c.b0, c.b1, c.b2, c.a1, c.a2);
  }

  /** Sets the coefficients (a0 already divided out). The state is kept, so a retune does not restart the filter. */
  setCoefficients(b0: number, b1: number, b2: number, a1: number, a2: number): void {
    this.b0 = b0;
    this.b1 = b1;
    this.b2 = b2;
    this.a1 = a1;
    this.a2 = a2;
  }

  /** Same as setCoefficients, from a design helper's result. */
  set(c: BiquadCoefficients): void {
    this.setCoefficients(c.b0, c.b1, c.b2, c.a1, c.a2);
  }

  reset(): void {
    this.z1 = 0;
    this.z2 = 0;
  }

  /** Filters buf[0..length) in place. */
  process(buf: Float32Array, length: number): void {
    const b0 = this.b0, b1 = this.b1, b2 = this.b2, a1 = this.a1, a2 = this.a2;
    let z1 = this.z1, z2 = this.z2;
    for (let i = 0; i < length; i++) {
      const x = buf[i];
      const y = b0 * x + z1;
      z1 = b1 * x + z2 - a1 * y; // feedback last: shortest loop-carried dependency chain
      z2 = b2 * x - a2 * y;
      buf[i] = y;
    }
    this.z1 = z1 > STATE_FLUSH || z1 < -STATE_FLUSH ? z1 : 0;
    this.z2 = z2 > STATE_FLUSH || z2 < -STATE_FLUSH ? z2 : 0;
  }

  /** Filters one sample (for tests and odd paths; blocks should use process). */
  processSample(x: number): number {
    const y = this.b0 * x + this.z1;
    this.z1 = this.b1 * x + this.z2 - this.a1 * y;
    this.z2 = this.b2 * x - this.a2 * y;
    return y;
  }
}

/**
 * High-pass, RBJ Audio EQ Cookbook (bilinear transform pre-warped at the cutoff).
 * With the default Q = 1/√2 it is a 2nd-order Butterworth: -3.01 dB at cutoffHz, 12 dB/octave.
 */
export function highpassCoefficients(sampleRate: number, cutoffHz: number, q = Math.SQRT1_2): BiquadCoefficients {
  const w0 = (2 * Math.PI * cutoffHz) / sampleRate;
  const cos = Math.cos(w0);
  const alpha = Math.sin(w0) / (2 * q);
  const a0 = 1 + alpha;
  const b = (1 + cos) / 2 / a0;
  return { b0: b, b1: -2 * b, b2: b, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0 };
}

// ITU-R BS.1770-4 Annex 1 publishes the K-weighting filters only as coefficients at 48 kHz.
// These are the analog prototypes behind that table (the parameters used by libebur128 and
// pyloudnorm); designing from them with the bilinear transform, pre-warped at f0, gives the
// table at 48 kHz to within 1e-15 and the same curve at any other rate.
const SHELF_F0_HZ = 1681.974450955533;
const SHELF_GAIN_DB = 3.999843853973347;
const SHELF_Q = 0.7071752369554196;
/** Exponent tying the shelf's mid-band gain to its high-frequency gain (Vb = Vh^x). */
const SHELF_VB_EXPONENT = 0.4996667741545416;
const RLB_F0_HZ = 38.13547087602444;
const RLB_Q = 0.5003270373238773;

/** BS.1770-4 K-weighting stage 1: the +4 dB high shelf modelling the head's acoustic effect. */
export function kWeightingShelfCoefficients(sampleRate: number): BiquadCoefficients {
  const k = Math.tan((Math.PI * SHELF_F0_HZ) / sampleRate);
  const vh = Math.pow(10, SHELF_GAIN_DB / 20);
  const vb = Math.pow(vh, SHELF_VB_EXPONENT);
  const kq = k / SHELF_Q;
  const a0 = 1 + kq + k * k;
  return {
    b0: (vh + vb * kq + k * k) / a0,
    b1: (2 * (k * k - vh)) / a0,
    b2: (vh - vb * kq + k * k) / a0,
    a1: (2 * (k * k - 1)) / a0,
    a2: (1 - kq + k * k) / a0,
  };
}

/**
 * BS.1770-4 K-weighting stage 2: the RLB high-pass. The numerator is [1, -2, 1] exactly as
 * in the standard's table, at every rate (as libebur128 does), rather than divided by a0:
 * the pass band then sits slightly above 0 dB (+0.03 dB at 1 kHz at 48 kHz, which the
 * -0.691 LUFS offset of BS.1770 was calibrated with).
 * Away from 48 kHz the cascade follows the 48 kHz curve within 0.01 dB at 44.1 kHz, 0.13 dB
 * at 16 kHz and 0.45 dB at 8 kHz (the bilinear shelf is squeezed against a 4 kHz Nyquist;
 * the un-normalized numerator adds +0.25 dB at 8 kHz, which happens to cancel the shelf's
 * deficit near 1 kHz, so a 1 kHz tone reads within 0.05 LU of 48 kHz at every rate).
 */
export function kWeightingHighpassCoefficients(sampleRate: number): BiquadCoefficients {
  const k = Math.tan((Math.PI * RLB_F0_HZ) / sampleRate);
  const kq = k / RLB_Q;
  const a0 = 1 + kq + k * k;
  return { b0: 1, b1: -2, b2: 1, a1: (2 * (k * k - 1)) / a0, a2: (1 - kq + k * k) / a0 };
}
