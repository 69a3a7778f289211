/**
 * The capture worklet: microphone samples in, meters and 20 ms frames out. Thin, as the
 * style asks: it downmixes to mono, runs the shared meter kernel (worklets/dsp/meters.ts,
 * the same code as the relay's PRE tap) and hands samples on.
 *
 * With cross-origin isolation, samples go to the encoder worker through a SharedArrayBuffer
 * ring and meter readings into a shared seqlock block: nothing in `process()` allocates or
 * posts. Without it, the fallback posts a copied 20 ms frame and a meter reading every
 * 20 ms (allocating, but once per frame rather than per render quantum).
 */
import { FrameMeter } from '../dsp/meters.ts';
import { CAPTURE_FRAME_MS, CAPTURE_PROCESSOR, type CaptureProcessorMessage, type CaptureProcessorOptions } from './capture-protocol.ts';
import { METER, METER_VALUES, MeterBlock } from './meter-block.ts';
import { SampleRing } from './sample-ring.ts';

// The AudioWorkletGlobalScope (Web Audio API §1.32), which TypeScript's DOM library does not
// describe; declared here, in this module only, so no other file sees these globals.
declare const sampleRate: number;
declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
  abstract process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean;
}
declare function registerProcessor(name: string, ctor: new (options?: AudioWorkletNodeOptions) => AudioWorkletProcessor): void;

/** Web Audio's render quantum (Web Audio API §1.2.1); the buffers are sized for it. */
const QUANTUM = 128;

class CaptureProcessor extends AudioWorkletProcessor {
  private readonly meter = new FrameMeter(sampleRate);
  private readonly mono = new Float32Array(QUANTUM);
  private readonly reading = new Float32Array(METER_VALUES);
  private readonly windowSamples = Math.round((sampleRate * CAPTURE_FRAME_MS) / 1000);
  private readonly ring: SampleRing | null;
  private readonly block: MeterBlock | null;
  /** Fallback only: the frame being filled for posting. */
  private readonly frame: Float32Array | null;
  private frameFill = 0;

  // The publication window: power sum, peak, clipped samples, sample count.
  private power = 0;
  private peak = 0;
  private clipped = 0;
  private count = 0;
  private total = 0;

  constructor(options?: AudioWorkletNodeOptions) {
    super(options);
    const opts = (options?.processorOptions ?? { ring: null, meters: null }) as CaptureProcessorOptions;
    this.ring = opts.ring ? new SampleRing(opts.ring) : null;
    this.block = opts.meters ? new MeterBlock(opts.meters) : null;
    this.frame = this.ring === null ? new Float32Array(this.windowSamples) : null;
  }

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    // No input yet (the source is not connected or has ended): keep the node alive.
    if (channels === undefined || channels.length === 0) return true;
    const n = channels[0].length;
    let x = channels[0];
    if (channels.length > 1) {
      const mono = this.mono;
      const k = 1 / channels.length;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < channels.length; c++) s += channels[c][i];
        mono[i] = s * k;
      }
      x = mono;
    }

    const m = this.meter;
    m.process(x, n);
    this.power += 10 ** (m.rmsDbfs / 10) * n;
    const peak = 10 ** (m.peakDbfs / 20);
    if (peak > this.peak) this.peak = peak;
    this.clipped += Math.round(m.clippingRatio * n);
    this.count += n;
    this.total += n;

    if (this.ring !== null) this.ring.push(x, n);
    else this.postSamples(x, n);

    if (this.count >= this.windowSamples) this.publish();
    return true;
  }

  private publish(): void {
    const r = this.reading;
    r[METER.rmsDbfs] = this.power > 0 ? 10 * Math.log10(this.power / this.count) : -120;
    r[METER.peakDbfs] = this.peak > 0 ? 20 * Math.log10(this.peak) : -120;
    r[METER.clippedSamples] = this.clipped;
    r[METER.momentaryLufs] = this.meter.momentaryLufs;
    r[METER.samples] = this.count;
    r[METER.totalSamples] = this.total;
    r[METER.ringOverruns] = this.ring !== null ? this.ring.overruns : 0;
    if (this.block !== null) this.block.publish(r);
    else this.post({ type: 'meters', values: r.slice() });
    this.power = this.peak = this.clipped = this.count = 0;
  }

  private postSamples(x: Float32Array, n: number): void {
    const frame = this.frame as Float32Array;
    let i = 0;
    while (i < n) {
      const k = Math.min(n - i, frame.length - this.frameFill);
      frame.set(x.subarray(i, i + k), this.frameFill);
      this.frameFill += k;
      i += k;
      if (this.frameFill === frame.length) {
        this.post({ type: 'frame', samples: frame.slice() });
        this.frameFill = 0;
      }
    }
  }

  private post(msg: CaptureProcessorMessage): void {
    this.port.postMessage(msg);
  }
}

registerProcessor(CAPTURE_PROCESSOR, CaptureProcessor);
