/**
 * The per-station knob chain: gain → high-pass → gate → compressor → limiter, each stage
 * driven by its knobs in protocol/knobs.ts.
 *
 * - Disabled stages are skipped entirely (no per-sample cost), and 0 dB of input gain is
 *   skipped too, so the defaults are bit-transparent.
 * - A stage switched on starts from reset, so its state never carries over from an earlier
 *   period it was on (a gate closed an hour ago, a compressor's old gain reduction).
 *   Retuning an enabled stage keeps its state.
 * - Nothing clamps the result to ±1: the relay meters the POST tap before clamping to learn
 *   what would have clipped.
 * - setKnobs runs at bucket boundaries and applies exactly from the next sample processed
 *   (ARCHITECTURE.md "Time"); nothing in the chain smooths a change.
 */

import type { KnobValues } from '../../protocol/knobs.ts';
import { Compressor } from './compressor.ts';
import { Gain } from './gain.ts';
import { NoiseGate } from './gate.ts';
import { HighPassFilter } from './highpass.ts';
import { PeakLimiter } from './limiter.ts';

export class ProcessingChain {
  private readonly gain = new Gain();
  private readonly hpf: HighPassFilter;
  private readonly gate: NoiseGate;
  private readonly compressor: Compressor;
  private readonly limiter: PeakLimiter;
  private gainOn = false;
  private hpfOn = false;
  private gateOn = false;
  private compressorOn = false;
  private limiterOn = false;

  constructor(sampleRate: number) {
    this.hpf = new HighPassFilter(sampleRate);
    this.gate = new NoiseGate(sampleRate);
    this.compressor = new Compressor(sampleRate);
    this.limiter = new PeakLimiter(sampleRate);
  }

  /** Applies a full set of knob values (already validated and clamped by the registry). */
  setKnobs(k: KnobValues): void {
    const gainDb = k['pcm.input_gain_db'];
    this.gain.setDb(gainDb);
    this.gainOn = gainDb !== 0;

    this.hpf.set(k['hpf.cutoff_hz']);
    if (k['hpf.enabled'] && !this.hpfOn) this.hpf.reset();
    this.hpfOn = k['hpf.enabled'];

    this.gate.set(k['gate.threshold_dbfs']);
    if (k['gate.enabled'] && !this.gateOn) this.gate.reset();
    this.gateOn = k['gate.enabled'];

    this.compressor.set({
      thresholdDbfs: k['compressor.threshold_dbfs'],
      ratio: k['compressor.ratio'],
      attackMs: k['compressor.attack_ms'],
      releaseMs: k['compressor.release_ms'],
      makeupDb: k['compressor.makeup_db'],
    });
    if (k['compressor.enabled'] && !this.compressorOn) this.compressor.reset();
    this.compressorOn = k['compressor.enabled'];

    this.limiter.set(k['limiter.threshold_dbfs']);
    if (k['limiter.enabled'] && !this.limiterOn) this.limiter.reset();
    this.limiterOn = k['limiter.enabled'];
  }

  /** Processes buf[0..length) in place. */
  process(buf: Float32Array, length: number): void {
    if (!(length >= 0 && length <= buf.length)) {
      throw new RangeError(`length must be 0..${buf.length}, got ${length}`);
    }
    if (this.gainOn) this.gain.process(buf, length);
    if (this.hpfOn) this.hpf.process(buf, length);
    if (this.gateOn) this.gate.process(buf, length);
    if (this.compressorOn) this.compressor.process(buf, length);
    if (this.limiterOn) this.limiter.process(buf, length);
  }

  /** Clears every stage's state (for a new stream); the knob values are kept. */
  reset(): void {
    this.hpf.reset();
    this.gate.reset();
    this.compressor.reset();
    this.limiter.reset();
  }
}
