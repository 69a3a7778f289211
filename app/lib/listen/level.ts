/**
 * The level of what a listener hears, measured in the browser: the played audio
 * goes through an AnalyserNode, and every read takes its most recent samples: RMS over the
 * last ~400 ms (the momentary window of BS.1770, unweighted, so it compares with the
 * relay's POST `rms_dbfs`), sample peak over the last ~50 ms. The arithmetic is plain
 * functions (tested); the probe is the thin Web Audio part.
 */
import { ampToDb, powerToDb } from '../../../worklets/dsp/constants.ts';

/** RMS window, ms. */
export const LEVEL_RMS_MS = 400;
/** Peak window, ms. */
export const LEVEL_PEAK_MS = 50;

/** RMS of the last `samples` of buf, dBFS (floor -120). */
export function tailRmsDbfs(buf: Float32Array, samples: number): number {
  const n = Math.min(samples, buf.length);
  let sum = 0;
  for (let i = buf.length - n; i < buf.length; i++) sum += buf[i] * buf[i];
  return powerToDb(n > 0 ? sum / n : 0);
}

/** Largest |x| of the last `samples` of buf, dBFS (floor -120). */
export function tailPeakDbfs(buf: Float32Array, samples: number): number {
  const n = Math.min(samples, buf.length);
  let peak = 0;
  for (let i = buf.length - n; i < buf.length; i++) {
    const a = Math.abs(buf[i]);
    if (a > peak) peak = a;
  }
  return ampToDb(peak);
}

/** An AnalyserNode in the played path (input -> probe.node -> wherever the caller connects it). */
export class LevelProbe {
  readonly node: AnalyserNode;
  private readonly buf: Float32Array<ArrayBuffer>;
  private readonly rmsSamples: number;
  private readonly peakSamples: number;

  constructor(ctx: BaseAudioContext) {
    this.rmsSamples = Math.round((ctx.sampleRate * LEVEL_RMS_MS) / 1000);
    this.peakSamples = Math.round((ctx.sampleRate * LEVEL_PEAK_MS) / 1000);
    // The largest power of two an AnalyserNode takes (32768) that holds the RMS window.
    let size = 2048;
    while (size < this.rmsSamples && size < 32768) size *= 2;
    this.node = new AnalyserNode(ctx, { fftSize: size, channelCount: 1, channelCountMode: 'explicit' });
    this.buf = new Float32Array(size);
  }

  read(): { rmsDbfs: number; peakDbfs: number } {
    this.node.getFloatTimeDomainData(this.buf);
    return { rmsDbfs: tailRmsDbfs(this.buf, this.rmsSamples), peakDbfs: tailPeakDbfs(this.buf, this.peakSamples) };
  }
}
