/**
 * Packet loss concealment by pitch-period waveform substitution, after the method of
 * ITU-T G.711 Appendix I (seed 004 §6.1, "waveform substitution" and "pitch-based"),
 * implemented from its description at any sample rate:
 *
 * - a history of the last 48.75 ms (three periods of the longest pitch, 15 ms, plus a
 *   quarter of one) is kept from the good samples;
 * - on a loss the pitch period is the lag of 5..15 ms that maximises the cross-correlation
 *   of the last 20 ms with the history, normalised by the lagged segment's energy (a coarse
 *   search at about 8 kHz resolution, then every lag around the best);
 * - the loss is filled by cycling through the last pitch period, with the cycle's seam
 *   overlap-added over a quarter period; after 10 ms of loss two periods are cycled, after
 *   20 ms three (older periods, so a long loss does not buzz), each change overlap-added
 *   over a quarter period;
 * - from 10 ms into the loss the output is attenuated linearly by 20 % per 10 ms, reaching
 *   silence at 60 ms;
 * - the first good frame after a loss is overlap-added with the synthetic continuation over
 *   4 ms, plus 4 ms for each further 10 ms of loss (at most 10 ms), so the real signal
 *   comes back without a click.
 *
 * Unlike Appendix I, the output is not delayed by a quarter period to smooth the step into
 * the loss (the relay plays decoded samples at once): the step between the last good sample
 * and the synthetic one is instead removed by an offset that decays to zero over the first
 * quarter period.
 *
 * State is allocated in the constructor; remember(), conceal() and recover() allocate
 * nothing.
 */

/** Shortest and longest pitch period searched, ms (G.711 Appendix I: 40..120 samples at 8 kHz). */
export const PITCH_MIN_MS = 5;
export const PITCH_MAX_MS = 15;
/** History kept: three longest periods plus a quarter of one, ms. */
export const HISTORY_MS = 3 * PITCH_MAX_MS + PITCH_MAX_MS / 4;
/** Length of the segment correlated in the pitch search, ms. */
export const CORRELATION_MS = 20;
/** Loss after which attenuation starts, and the step at which periods are added, ms. */
export const ATTENUATION_START_MS = 10;
/** Loss at which the output is silent, ms (20 % less gain per 10 ms after the first 10 ms). */
export const SILENCE_MS = 60;
/** Recovery overlap-add: 4 ms, plus 4 ms per further 10 ms of loss, at most 10 ms. */
export const RECOVERY_STEP_MS = 4;
export const RECOVERY_MAX_MS = 10;

export class PitchConcealer {
  readonly sampleRate: number;
  /** history[0..historyLength), the newest sample last. */
  private readonly history: Float32Array;
  /** The synthetic continuation mixed into the first good frame. */
  private readonly tail: Float32Array;
  private readonly minLag: number;
  private readonly maxLag: number;
  private readonly correlationLength: number;
  private readonly coarseStep: number;
  private readonly samplesPer10Ms: number;
  private readonly silenceSamples: number;

  /** Samples concealed in the current loss run (0: not in a loss). */
  private lost = 0;
  private period = 0;
  /** Quarter period: the overlap-add length at cycle seams and period changes. */
  private quarter = 1;
  /** Periods being cycled (1..3), and the position in that cycle. */
  private periods = 1;
  private pos = 0;
  /** During a change of the period count: the previous cycle, faded out over `quarter`. */
  private oldPeriods = 0;
  private oldPos = 0;
  private fadeLeft = 0;
  /** Step between the last good sample and the cycle's start, decayed over `quarter`. */
  private offset = 0;

  constructor(sampleRate: number) {
    if (!(Number.isInteger(sampleRate) && sampleRate >= 8000)) {
      throw new RangeError(`sampleRate must be an integer of at least 8000 Hz, got ${sampleRate}`);
    }
    this.sampleRate = sampleRate;
    const ms = (t: number): number => Math.round((t * sampleRate) / 1000);
    this.minLag = ms(PITCH_MIN_MS);
    this.maxLag = ms(PITCH_MAX_MS);
    this.correlationLength = ms(CORRELATION_MS);
    this.history = new Float32Array(Math.max(3 * this.maxLag + Math.ceil(this.maxLag / 4), this.maxLag + this.correlationLength));
    this.tail = new Float32Array(ms(RECOVERY_MAX_MS));
    this.coarseStep = Math.max(1, Math.round(sampleRate / 8000));
    this.samplesPer10Ms = ms(10);
    this.silenceSamples = ms(SILENCE_MS);
  }

  /** Samples concealed since the last good one. */
  get lostSamples(): number {
    return this.lost;
  }

  /** The pitch period of the current or last loss, samples (0 before any). */
  get pitchSamples(): number {
    return this.period;
  }

  /** Appends good samples frame[0..length) to the history and ends the current loss run. */
  remember(frame: Float32Array, length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= frame.length)) {
      throw new RangeError(`length must be 0..${frame.length}, got ${length}`);
    }
    const h = this.history;
    const H = h.length;
    if (length >= H) {
      for (let i = 0; i < H; i++) h[i] = frame[length - H + i];
    } else {
      h.copyWithin(0, length);
      for (let i = 0; i < length; i++) h[H - length + i] = frame[i];
    }
    this.lost = 0;
  }

  /**
   * The first good frame after a loss: overlap-adds the synthetic continuation into
   * frame[0..ramp) in place, then remembers the frame. Outside a loss, as remember().
   */
  recover(frame: Float32Array, length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= frame.length)) {
      throw new RangeError(`length must be 0..${frame.length}, got ${length}`);
    }
    if (this.lost > 0) {
      const tens = Math.ceil(this.lost / this.samplesPer10Ms);
      const ramp = Math.min(length, this.tail.length, Math.round((RECOVERY_STEP_MS * tens * this.sampleRate) / 1000));
      const tail = this.tail;
      this.synthesize(tail, ramp);
      for (let j = 0; j < ramp; j++) {
        const w = (j + 0.5) / ramp;
        frame[j] = w * frame[j] + (1 - w) * tail[j];
      }
    }
    this.remember(frame, length);
  }

  /** Writes `length` concealment samples for a loss (continuing the current one) to out[0..length). */
  conceal(out: Float32Array, length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= out.length)) {
      throw new RangeError(`length must be 0..${out.length}, got ${length}`);
    }
    if (this.lost === 0) this.start();
    this.synthesize(out, length);
  }

  /** A new loss: estimate the pitch, and set up a one-period cycle. */
  private start(): void {
    const h = this.history;
    const H = h.length;
    const p = this.estimatePitch();
    this.period = p;
    this.quarter = Math.max(1, p >> 2);
    this.periods = 1;
    this.pos = 0;
    this.fadeLeft = 0;
    // The cycle's sample before its start is (after the seam's overlap-add) h[H-p-1].
    this.offset = h[H - 1] - h[H - p - 1];
  }

  /** Pitch period, samples: the lag maximising the normalised cross-correlation. */
  private estimatePitch(): number {
    const step = this.coarseStep;
    let best = this.minLag;
    let bestScore = -Infinity;
    for (let lag = this.minLag; lag <= this.maxLag; lag += step) {
      const s = this.score(lag, step);
      if (s > bestScore) {
        bestScore = s;
        best = lag;
      }
    }
    if (step === 1) return best;
    const from = Math.max(this.minLag, best - step + 1);
    const to = Math.min(this.maxLag, best + step - 1);
    bestScore = -Infinity;
    for (let lag = from; lag <= to; lag++) {
      const s = this.score(lag, 1);
      if (s > bestScore) {
        bestScore = s;
        best = lag;
      }
    }
    return best;
  }

  /** Σ x[n]·x[n−lag] / √Σ x[n−lag]² over the last CORRELATION_MS, every `step`-th sample. */
  private score(lag: number, step: number): number {
    const h = this.history;
    const end = h.length;
    let xy = 0;
    let yy = 1e-20;
    for (let n = end - this.correlationLength; n < end; n += step) {
      const y = h[n - lag];
      xy += h[n] * y;
      yy += y * y;
    }
    return xy / Math.sqrt(yy);
  }

  /**
   * Sample k of the cycle through the last `periods` pitch periods of the history; its last
   * quarter period is cross-faded into the quarter period before the cycle's start, so the
   * cycle's end runs smoothly into its start.
   */
  private cycleSample(periods: number, k: number): number {
    const h = this.history;
    const H = h.length;
    const len = periods * this.period;
    const q = this.quarter;
    const fadeFrom = len - q;
    if (k < fadeFrom) return h[H - len + k];
    const j = k - fadeFrom;
    const w = (j + 0.5) / q;
    return (1 - w) * h[H - q + j] + w * h[H - len - q + j];
  }

  private synthesize(out: Float32Array, length: number): void {
    const per10 = this.samplesPer10Ms;
    const q = this.quarter;
    for (let i = 0; i < length; i++) {
      const t = this.lost;
      if (t >= this.silenceSamples) {
        out[i] = 0;
        this.lost++;
        continue;
      }
      // One more (older) period at 10 ms and 20 ms of loss.
      if (this.periods < 3 && t === per10 * this.periods) {
        this.oldPeriods = this.periods;
        this.oldPos = this.pos;
        this.periods++;
        this.fadeLeft = q;
      }
      let v = this.cycleSample(this.periods, this.pos);
      if (this.fadeLeft > 0) {
        const w = (q - this.fadeLeft + 0.5) / q;
        v = w * v + (1 - w) * this.cycleSample(this.oldPeriods, this.oldPos);
        if (++this.oldPos === this.oldPeriods * this.period) this.oldPos = 0;
        this.fadeLeft--;
      }
      if (t < q) v += this.offset * (1 - (t + 1) / q);
      const gain = t < per10 ? 1 : 1 - (0.2 * (t - per10)) / per10;
      out[i] = v * gain;
      if (++this.pos === this.periods * this.period) this.pos = 0;
      this.lost++;
    }
  }
}
