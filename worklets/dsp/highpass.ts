/**
 * High-pass filter for rumble and handling noise: 2nd-order Butterworth (12 dB/octave,
 * -3.01 dB at the cutoff), one biquad. Removes DC as a side effect (a zero at z = 1).
 */

import { Biquad, highpassCoefficients } from './biquad.ts';

/** Cutoff after construction, Hz (the `hpf.cutoff_hz` knob default). */
export const DEFAULT_HPF_CUTOFF_HZ = 80;

export class HighPassFilter {
  private readonly sampleRate: number;
  private readonly biquad = new Biquad();
  private cutoffHz = 0;

  constructor(sampleRate: number) {
    if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
    this.sampleRate = sampleRate;
    this.set(DEFAULT_HPF_CUTOFF_HZ);
  }

  /**
   * Cutoff in Hz, limited to 1 Hz..0.45·sampleRate (the bilinear design degenerates at
   * Nyquist). The filter state is kept, so a retune while running does not restart it.
   */
  set(cutoffHz: number): void {
    if (!Number.isFinite(cutoffHz)) throw new RangeError(`cutoffHz must be finite, got ${cutoffHz}`);
    const hz = Math.min(Math.max(cutoffHz, 1), 0.45 * this.sampleRate);
    if (hz === this.cutoffHz) return;
    this.cutoffHz = hz;
    this.biquad.set(highpassCoefficients(this.sampleRate, hz));
  }

  reset(): void {
    this.biquad.reset();
  }

  process(buf: Float32Array, length: number): void {
    this.biquad.process(buf, length);
  }
}
