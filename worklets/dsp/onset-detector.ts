/**
 * Finds where sound starts after silence: the first sample at or over `thresholdDbfs`
 * (sample peak) after at least `minQuietMs` of samples under `quietDbfs`, allowing up to
 * `maxRiseMs` in between (a codec smears an onset: Opus's pre-echo puts a few ms of low-level
 * signal ahead of the attack). The low-latency player runs it on what it plays, so a test (or
 * a person with a clapper) can time a burst from the station's microphone to the listener's
 * output.
 *
 * Per-sample comparisons over a block, no allocation: it runs in the AudioWorklet.
 */
import { dbToAmp } from './constants.ts';

export interface OnsetDetectorOptions {
  /** A sample at or over this level starts a burst, dBFS (default -30). */
  thresholdDbfs?: number;
  /** Samples under this level count as silence, dBFS (default -50). */
  quietDbfs?: number;
  /** Silence needed before an onset counts, ms (default 150). */
  minQuietMs?: number;
  /** Longest stretch between silence and the threshold that still counts as one onset, ms (default 10). */
  maxRiseMs?: number;
}

export class OnsetDetector {
  /** Onsets found since construction. */
  onsets = 0;
  /** Stream index of the last onset's sample, or -1. */
  lastOnsetSample = -1;

  private readonly threshold: number;
  private readonly quiet: number;
  private readonly minQuiet: number;
  private readonly maxRise: number;
  private quietRun = 0;
  /** Samples over the quiet level since the last long silence, while still under the threshold. */
  private riseRun = 0;
  private armed = false;

  constructor(sampleRate: number, opts: OnsetDetectorOptions = {}) {
    this.threshold = dbToAmp(opts.thresholdDbfs ?? -30);
    this.quiet = dbToAmp(opts.quietDbfs ?? -50);
    if (!(this.quiet < this.threshold)) throw new RangeError('quietDbfs must be below thresholdDbfs');
    this.minQuiet = Math.round((sampleRate * (opts.minQuietMs ?? 150)) / 1000);
    this.maxRise = Math.round((sampleRate * (opts.maxRiseMs ?? 10)) / 1000);
  }

  /**
   * Forgets the silence seen so far: silence the player made itself (buffering, after an
   * underrun) is not the station's, and sound after it is not an onset.
   */
  disarm(): void {
    this.quietRun = 0;
    this.riseRun = 0;
    this.armed = false;
  }

  /** Scans x[0..length); `firstIndex` is x[0]'s index in the stream. */
  process(x: Float32Array, length: number, firstIndex: number): void {
    const threshold = this.threshold;
    const quiet = this.quiet;
    let run = this.quietRun;
    let rise = this.riseRun;
    let armed = this.armed;
    for (let i = 0; i < length; i++) {
      const a = Math.abs(x[i]);
      if (a < quiet) {
        if (++run >= this.minQuiet) {
          armed = true;
          rise = 0;
        }
        continue;
      }
      run = 0;
      if (!armed) continue;
      if (a >= threshold) {
        this.onsets++;
        this.lastOnsetSample = firstIndex + i;
        armed = false;
      } else if (++rise > this.maxRise) {
        armed = false;
      }
    }
    this.quietRun = run;
    this.riseRun = rise;
    this.armed = armed;
  }
}
