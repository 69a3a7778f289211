/**
 * Fractional-octave band spectrum of one mono tap (seed 003, phase WS-3: the spectrum
 * producer; seed 003 Q3: it runs slower than the meters, a few frames per second).
 *
 * push() keeps the last fftSize samples in a ring as audio arrives; compute() takes a
 * Hann-windowed FFT of them and sums the power of the bins in each band into `db`.
 *
 * Bands: centres log-spaced from minHz, bandsPerOctave per octave (1/6 octave by default),
 * up to the last centre at or below Nyquist; band i spans centre·2^(±1/(2·bandsPerOctave)),
 * half-open [lo, hi), so adjacent bands share an edge and every bin falls in at most one.
 * A band too narrow to hold a bin (the lowest bands at small FFT sizes) reads the bin
 * nearest its centre instead of the floor. Bin 0 (DC) belongs to no band: a DC offset is
 * the meters' business, not the spectrum's.
 *
 * Level: dBFS in the meters' peak convention (constants.ts), so a sine of amplitude A reads
 * 20·log10(A) in the band that holds it (a full-scale sine: 0 dBFS). The Hann window
 * w[n] = 0.5 - 0.5·cos(2πn/N) has a coherent gain of 0.5 (an on-bin sine of amplitude A
 * gives |X[k]| = A·N·0.5/2) and an equivalent noise bandwidth of 1.5 bins (its main lobe
 * spreads a sine's power over bins whose powers sum to 1.5× the peak bin's). A band sums
 * the whole lobe, so the bin powers are scaled by (2/(N·0.5))² / 1.5 = 4/(N·Σw²). A sine
 * within a bin or two of a band edge splits between the two bands (their sum still reads
 * 20·log10(A)). White noise of mean square σ² sums to 2σ² over all bands (+3.01 dB above
 * its RMS level, as a sine of the same RMS would) and rises 10·log10(2) = 3.01 dB per octave
 * of band centre, since the bands widen in proportion to their centre.
 *
 * Everything is allocated in the constructor; push and compute allocate nothing.
 */

import { DB_FLOOR, powerToDb } from './constants.ts';
import { RealFft } from './fft.ts';

/** Window length the default FFT size aims at: 4096 samples at 48 kHz, 85.3 ms. */
export const SPECTRUM_WINDOW_MS = (4096 / 48000) * 1000;
export const SPECTRUM_DEFAULT_BANDS_PER_OCTAVE = 6;
export const SPECTRUM_DEFAULT_MIN_HZ = 20;
export const SPECTRUM_MIN_FFT_SIZE = 64;
export const SPECTRUM_MAX_FFT_SIZE = 65536;

export interface BandSpectrumOptions {
  /** Samples per FFT, a power of two 64..65536. Default: the power of two nearest (in log) to 85.3 ms (4096 at 44.1 and 48 kHz, 512 at 8 kHz, 1024 at 16 kHz, 8192 at 96 kHz). */
  fftSize?: number;
  /** Bands per octave, 1..48. Default 6. */
  bandsPerOctave?: number;
  /** Centre of the lowest band, Hz, above 0 and below Nyquist. Default 20. */
  minHz?: number;
}

/** The power of two nearest (in log) to SPECTRUM_WINDOW_MS at sampleRate. */
export function defaultSpectrumFftSize(sampleRate: number): number {
  const exponent = Math.round(Math.log2((sampleRate * SPECTRUM_WINDOW_MS) / 1000));
  return Math.min(SPECTRUM_MAX_FFT_SIZE, Math.max(SPECTRUM_MIN_FFT_SIZE, 2 ** exponent));
}

export class BandSpectrum {
  /** Samples per FFT window. */
  readonly fftSize: number;
  /** Centre frequency of each band, Hz: minHz·2^(i/bandsPerOctave), up to Nyquist. */
  readonly bandsHz: Float32Array;
  /** Level of each band at the last compute(), dBFS (a sine of amplitude A reads 20·log10 A), floored at DB_FLOOR, never NaN. */
  readonly db: Float32Array;

  private readonly fft: RealFft;
  /** The last fftSize samples; `write` is the oldest (the next to be overwritten). */
  private readonly ring: Float32Array;
  private write = 0;
  private readonly window: Float32Array;
  /** Windowed copy of the ring, oldest sample first. */
  private readonly frame: Float32Array;
  private readonly power: Float32Array;
  /** Band i sums power[binStart[i] .. binEnd[i]). */
  private readonly binStart: Int32Array;
  private readonly binEnd: Int32Array;
  /** 4 / (N·Σw²): bin power to peak-convention mean square (see the file comment). */
  private readonly scale: number;

  constructor(sampleRate: number, opts: BandSpectrumOptions = {}) {
    if (!(sampleRate >= 8000 && sampleRate <= 384000)) {
      throw new RangeError(`sampleRate must be 8000..384000 Hz, got ${sampleRate}`);
    }
    const n = opts.fftSize ?? defaultSpectrumFftSize(sampleRate);
    if (!(Number.isInteger(n) && n >= SPECTRUM_MIN_FFT_SIZE && n <= SPECTRUM_MAX_FFT_SIZE && (n & (n - 1)) === 0)) {
      throw new RangeError(`fftSize must be a power of two ${SPECTRUM_MIN_FFT_SIZE}..${SPECTRUM_MAX_FFT_SIZE}, got ${n}`);
    }
    const perOctave = opts.bandsPerOctave ?? SPECTRUM_DEFAULT_BANDS_PER_OCTAVE;
    if (!(Number.isInteger(perOctave) && perOctave >= 1 && perOctave <= 48)) {
      throw new RangeError(`bandsPerOctave must be an integer 1..48, got ${perOctave}`);
    }
    const nyquist = sampleRate / 2;
    const minHz = opts.minHz ?? SPECTRUM_DEFAULT_MIN_HZ;
    if (!(minHz > 0 && minHz < nyquist)) {
      throw new RangeError(`minHz must be above 0 and below Nyquist (${nyquist} Hz), got ${minHz}`);
    }

    this.fftSize = n;
    this.fft = new RealFft(n);
    this.ring = new Float32Array(n);
    this.frame = new Float32Array(n);
    this.power = new Float32Array(n / 2 + 1);
    this.window = new Float32Array(n);
    let sumSquares = 0;
    for (let i = 0; i < n; i++) {
      // Periodic ("DFT-even") Hann: exactly 0.5 coherent gain and 1.5 bins ENBW at any N.
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      this.window[i] = w;
      sumSquares += this.window[i] * this.window[i];
    }
    this.scale = 4 / (n * sumSquares);

    // 1e-9 absorbs rounding when Nyquist is exactly a band centre.
    const count = Math.floor(perOctave * Math.log2(nyquist / minHz) + 1e-9) + 1;
    this.bandsHz = new Float32Array(count);
    this.db = new Float32Array(count).fill(DB_FLOOR);
    this.binStart = new Int32Array(count);
    this.binEnd = new Int32Array(count);
    const binsPerHz = n / sampleRate;
    const lastBin = n / 2;
    // Edges computed once and shared by neighbours, so no bin is counted twice or dropped.
    const edgeBin = (j: number) => Math.min(lastBin + 1, Math.ceil(minHz * 2 ** ((j - 0.5) / perOctave) * binsPerHz));
    for (let i = 0; i < count; i++) {
      const centre = minHz * 2 ** (i / perOctave);
      this.bandsHz[i] = centre;
      const lo = edgeBin(i);
      const hi = edgeBin(i + 1);
      if (hi > lo) {
        this.binStart[i] = lo;
        this.binEnd[i] = hi;
      } else {
        const nearest = Math.min(lastBin, Math.max(1, Math.round(centre * binsPerHz)));
        this.binStart[i] = nearest;
        this.binEnd[i] = nearest + 1;
      }
    }
  }

  /** Forgets the audio seen so far: the ring is silence, every band reads DB_FLOOR. */
  reset(): void {
    this.ring.fill(0);
    this.write = 0;
    this.db.fill(DB_FLOOR);
  }

  /** Appends x[0..length) to the ring (only the last fftSize samples matter). x is not modified. */
  push(x: Float32Array, length: number): void {
    if (!(length >= 0 && length <= x.length)) {
      throw new RangeError(`length must be 0..${x.length}, got ${length}`);
    }
    const ring = this.ring;
    const n = ring.length;
    let w = this.write;
    // Samples older than the last n would be overwritten before compute() could see them.
    for (let i = length > n ? length - n : 0; i < length; i++) {
      ring[w] = x[i];
      if (++w === n) w = 0;
    }
    this.write = w;
  }

  /** Hann-windowed FFT of the last fftSize samples pushed (silence before the first) into `db`. */
  compute(): void {
    const ring = this.ring, window = this.window, frame = this.frame;
    const n = ring.length;
    const w = this.write;
    const tail = n - w;
    for (let i = 0; i < tail; i++) frame[i] = ring[w + i] * window[i];
    for (let i = tail; i < n; i++) frame[i] = ring[i - tail] * window[i];

    const power = this.power;
    this.fft.powerSpectrum(frame, power);

    const db = this.db, binStart = this.binStart, binEnd = this.binEnd, scale = this.scale;
    for (let b = 0; b < db.length; b++) {
      let sum = 0;
      const end = binEnd[b];
      for (let k = binStart[b]; k < end; k++) sum += power[k];
      // powerToDb floors 0, NaN (a NaN sample poisons every bin) and anything below -120 dB.
      db[b] = powerToDb(sum * scale);
    }
  }
}
