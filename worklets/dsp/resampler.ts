/**
 * Band-limited sample-rate conversion of a stream, block by block: a polyphase
 * windowed-sinc resampler (Smith, "Digital Audio Resampling", the bandlimited interpolation
 * of CCRMA's resample; Crochiere & Rabiner's polyphase form). The relay's listener egress
 * uses it to bring a 44.1 or 22.05 kHz station to the 48 kHz an Opus encoder takes; the
 * whole-segment converter of the API (relay/src/audio/resample.ts, libsamplerate) is not
 * for a per-frame path (22 MB of wasm per instance, one call per segment).
 *
 * The rate ratio to/from reduces to L/M; output sample j sits at input time j·M/L, and its
 * value is the input convolved with one of L phases of a Kaiser-windowed sinc (2·H taps
 * at the lower of the two rates), each phase scaled to a DC gain of exactly 1. With the
 * defaults (H = 24, 80 dB) the stopband (below -80 dB) starts at the lower rate's Nyquist
 * frequency, the passband (within 0.02 dB) reaches 0.40 of the lower rate (17.6 kHz for
 * 44.1 kHz audio), and the -6 dB point is at 0.45. It costs 48 multiply-adds per output
 * sample: 46,080 per 20 ms frame into 48 kHz.
 *
 * The output lags the input by `delaySamples` input samples (H at an up-conversion), and
 * every block of n input samples yields floor or ceil of n·L/M outputs: exactly n·L/M
 * when n is a multiple of M (20 ms at any rate that is a multiple of 50 Hz, into 48 kHz,
 * always gives 960). The phase tables are shared by every resampler of the same rates in
 * a thread. `process` allocates nothing.
 */

export interface ResamplerOptions {
  /** Half the filter length, in samples of the lower rate (rounded up to even); default 24 (48 taps per phase). */
  halfTaps?: number;
  /** Stopband attenuation, dB (sets the Kaiser window's β and the transition width); default 80. */
  stopbandDb?: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** I0, the zeroth-order modified Bessel function of the first kind (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 100 && term > 1e-12 * sum; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

/** Kaiser's β for a stopband attenuation in dB (Oppenheim & Schafer, eq. 7.62). */
function kaiserBeta(db: number): number {
  if (db > 50) return 0.1102 * (db - 8.7);
  if (db >= 21) return 0.5842 * Math.pow(db - 21, 0.4) + 0.07886 * (db - 21);
  return 0;
}

interface Design {
  up: number;
  down: number;
  /** Taps per phase. */
  taps: number;
  /** Half the filter's length in input samples: the output's delay. */
  half: number;
  /** up phases × taps: phase p's taps at [p·taps, (p+1)·taps), oldest input first. */
  table: Float32Array;
}

/** Designs are immutable: one per (rates, options) in a thread, whatever the number of streams. */
const designs = new Map<string, Design>();

function design(fromRate: number, toRate: number, halfTaps: number, stopbandDb: number): Design {
  const key = `${fromRate}/${toRate}/${halfTaps}/${stopbandDb}`;
  const known = designs.get(key);
  if (known !== undefined) return known;
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  // Kaiser's length estimate (O&S eq. 7.63) solved for the transition width, at the lower
  // rate: 2·H taps give Δω rad per sample; the stopband begins at that rate's Nyquist.
  const ratio = Math.min(1, toRate / fromRate); // lower rate over input rate
  const transition = (stopbandDb - 8) / (2.285 * 2 * halfTaps) / (2 * Math.PI); // cycles per lower-rate sample
  const cutoff = (0.5 - transition / 2) * ratio; // -6 dB point, cycles per input sample
  // Even, so a phase's taps are a multiple of 4 (the inner loop takes four at a time).
  const half = 2 * Math.ceil(halfTaps / ratio / 2);
  const taps = 2 * half;
  const beta = kaiserBeta(stopbandDb);
  const i0Beta = besselI0(beta);
  const table = new Float32Array(up * taps);
  const phase = new Float64Array(taps);
  for (let p = 0; p < up; p++) {
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // Input sample k of the window is this far before the output's time, in input samples.
      const x = half - 1 - k + p / up;
      const r = x / half;
      const window = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta;
      const arg = 2 * cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      phase[k] = 2 * cutoff * sinc * window;
      sum += phase[k];
    }
    for (let k = 0; k < taps; k++) table[p * taps + k] = phase[k] / sum;
  }
  const d: Design = { up, down, taps, half, table };
  designs.set(key, d);
  return d;
}

export class Resampler {
  /** L and M: to/from reduced. */
  readonly up: number;
  readonly down: number;
  /** How far the output lags the input, in input samples. */
  readonly delaySamples: number;
  private readonly taps: number;
  private readonly table: Float32Array;
  /** The last taps - 1 input samples, then the block being converted. */
  private readonly buf: Float32Array;
  private avail: number;
  /** Window start of the next output, in buf. */
  private base = 0;
  /** Phase of the next output, 0..up-1. */
  private phase = 0;

  /**
   * @param fromRate input rate, Hz (a positive integer)
   * @param toRate output rate, Hz (a positive integer)
   * @param maxBlock the most input samples one `process` call takes
   */
  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    readonly maxBlock: number,
    options: ResamplerOptions = {},
  ) {
    for (const [name, hz] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
      if (!Number.isInteger(hz) || hz < 1 || hz > 384_000) throw new RangeError(`${name} must be an integer rate from 1 to 384000 Hz, got ${hz}`);
    }
    if (!Number.isInteger(maxBlock) || maxBlock < 1) throw new RangeError(`maxBlock must be a positive integer of samples, got ${maxBlock}`);
    const { halfTaps = 24, stopbandDb = 80 } = options;
    if (!Number.isInteger(halfTaps) || halfTaps < 2 || halfTaps > 256) throw new RangeError(`halfTaps must be an integer from 2 to 256, got ${halfTaps}`);
    if (!(stopbandDb >= 21 && stopbandDb <= 180)) throw new RangeError(`stopbandDb must be from 21 to 180 dB, got ${stopbandDb}`);
    const d = design(fromRate, toRate, halfTaps, stopbandDb);
    this.up = d.up;
    this.down = d.down;
    this.taps = d.taps;
    this.table = d.table;
    this.delaySamples = d.half;
    this.buf = new Float32Array(d.taps - 1 + maxBlock);
    this.avail = d.taps - 1; // zeros before the first sample: the first output is due at once
  }

  /** Outputs the next `length` input samples will give (the size `process` needs for `out`). */
  outputsFor(length: number): number {
    const room = this.avail + length - this.taps - this.base; // how far the window may still move
    if (room < 0) return 0;
    return Math.floor(((room + 1) * this.up - 1 - this.phase) / this.down) + 1;
  }

  /** Converts input[0..length) into out[0..n): n, as `outputsFor(length)` said. */
  process(input: Float32Array, length: number, out: Float32Array): number {
    if (!(length >= 0 && length <= this.maxBlock && length <= input.length)) {
      throw new RangeError(`cannot take ${length} samples: the block is at most ${this.maxBlock} and the input holds ${input.length}`);
    }
    const count = this.outputsFor(length);
    if (count > out.length) throw new RangeError(`${length} input samples give ${count} outputs, but out holds ${out.length}`);
    const buf = this.buf;
    const table = this.table;
    const taps = this.taps;
    const up = this.up;
    const down = this.down;
    let avail = this.avail;
    for (let i = 0; i < length; i++) buf[avail + i] = input[i];
    avail += length;
    let base = this.base;
    let phase = this.phase;
    for (let j = 0; j < count; j++) {
      // Four partial sums: a third less time than one (fewer dependent additions in a row).
      let t = phase * taps;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let b = base, end = base + taps; b < end; b += 4, t += 4) {
        a0 += buf[b] * table[t];
        a1 += buf[b + 1] * table[t + 1];
        a2 += buf[b + 2] * table[t + 2];
        a3 += buf[b + 3] * table[t + 3];
      }
      out[j] = a0 + a1 + a2 + a3;
      phase += down;
      if (phase >= up) {
        const step = Math.floor(phase / up);
        base += step;
        phase -= step * up;
      }
    }
    // Keep what later outputs still need at the front of the buffer.
    buf.copyWithin(0, base, avail);
    this.avail = avail - base;
    this.base = 0;
    this.phase = phase;
    return count;
  }

  /** Forgets the signal: the next block starts as the first one did. */
  reset(): void {
    this.buf.fill(0);
    this.avail = this.taps - 1;
    this.base = 0;
    this.phase = 0;
  }
}
