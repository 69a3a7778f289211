/**
 * Gains for concealment by repetition of the last good frame, seed 004 §6 simplified: a
 * fade, then silence. The low-latency player's playout buffer (playout-buffer.ts) conceals
 * this way, a multiply per sample. (The relay conceals PCM and G.711 by pitch-period
 * waveform substitution instead, pitch-plc.ts; Opus by libopus's own concealment and
 * in-band FEC, relay/src/media/concealment.ts.)
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
