/**
 * Packet loss concealment for decoded PCM frames, seed 004 §6 simplified: repetition of the
 * last good frame with a fade, then silence. No pitch search or noise synthesis: at the
 * loss rates a relay sees on its ingest paths a fading repeat masks a lost 20 ms frame
 * well, and it costs one multiply per sample. (Opus streams get libopus's own concealment
 * and in-band FEC, relay/src/media/concealment.ts; this is for PCM, G.711 and any codec
 * without concealment of its own.)
 *
 * Gain of the k-th consecutive concealed frame:
 *   k = 1, 2   0.9^k                  "pattern repetition" (−0.9 dB per frame)
 *   k = 3..5   0.81·0.5^(k−2)         stronger fade (−6 dB per frame): 0.405, 0.2025, 0.10125
 *   k >= 6     0                      silence, rather than a buzz from one frame looped
 */

/** Concealed frames repeated with the gentle 0.9^k fade (seed 004 §6.2 `repetition_limit`). */
export const REPEAT_LIMIT = 2;
/** Last concealed frame with any signal (seed 004 §6.2 `waveform_limit`); later ones are silent. */
export const FADE_LIMIT = 5;

/** Gain applied to the remembered frame for the k-th consecutive loss (k >= 1). */
export function concealmentGain(k: number): number {
  if (k <= REPEAT_LIMIT) return Math.pow(0.9, k);
  if (k <= FADE_LIMIT) return Math.pow(0.9, REPEAT_LIMIT) * Math.pow(0.5, k - REPEAT_LIMIT);
  return 0;
}

export class Concealer {
  private readonly last: Float32Array;
  private lastLength = 0;
  private losses = 0;

  /** @param maxFrameSamples the longest frame remember() will be given (e.g. 960 for 20 ms at 48 kHz). */
  constructor(maxFrameSamples: number) {
    if (!(Number.isInteger(maxFrameSamples) && maxFrameSamples > 0)) {
      throw new RangeError(`maxFrameSamples must be a positive integer, got ${maxFrameSamples}`);
    }
    this.last = new Float32Array(maxFrameSamples);
  }

  /** Consecutive frames concealed since the last good one. */
  get consecutiveLosses(): number {
    return this.losses;
  }

  /** Keeps a copy of a good frame and ends the current loss run. */
  remember(frame: Float32Array, length: number): void {
    if (!(length >= 0 && length <= this.last.length && length <= frame.length)) {
      throw new RangeError(`length must be 0..${Math.min(this.last.length, frame.length)}, got ${length}`);
    }
    const last = this.last;
    for (let i = 0; i < length; i++) last[i] = frame[i];
    this.lastLength = length;
    this.losses = 0;
  }

  /**
   * Writes a concealment frame for one lost frame to out[0..length). A frame longer than
   * the remembered one repeats it from its start. Zeros if nothing was remembered yet.
   */
  conceal(out: Float32Array, length: number): void {
    if (!(length >= 0 && length <= out.length)) {
      throw new RangeError(`length must be 0..${out.length}, got ${length}`);
    }
    this.losses++;
    const n = this.lastLength;
    const g = n > 0 ? concealmentGain(this.losses) : 0;
    if (g === 0) {
      out.fill(0, 0, length);
      return;
    }
    const last = this.last;
    for (let i = 0, j = 0; i < length; i++) {
      out[i] = last[j] * g;
      if (++j === n) j = 0;
    }
  }
}
