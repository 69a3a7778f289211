/**
 * The capture worklet: microphone samples in, meters and 20 ms frames out. Thin, as the
 * style asks: it downmixes to mono, runs the shared meter kernels (worklets/dsp/meters.ts
 * per block, meter-window.ts per reading: the same code as the relay's PRE tap and its
 * telemetry) and hands samples on.
 *
 * With cross-origin isolation, samples go to the encoder worker through a SharedArrayBuffer
 * ring and meter readings into a shared seqlock block: nothing in `process()` allocates or
 * posts. Without it, the fallback posts a copied 20 ms frame and a meter reading every
 * 20 ms (allocating, but once per frame rather than per render quantum).
 */
import { MeterWindow } from '../dsp/meter-window.ts';
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
  /** The reading being aggregated: at least CAPTURE_FRAME_MS of samples, in whole render quanta. */
  private readonly meterWindow = new MeterWindow();
  private readonly mono = new Float32Array(QUANTUM);
  private readonly reading = new Float32Array(METER_VALUES);
  private readonly windowSamples = Math.round((sampleRate * CAPTURE_FRAME_MS) / 1000);
  private readonly ring: SampleRing | null;
  private readonly block: MeterBlock | null;
  /** Fallback only: the frame being filled for posting. */
  private readonly frame: Float32Array | null;
  private frameFill = 0;
  /** Samples seen since the worklet started. */
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
    this.meterWindow.add(n, m.rmsDbfs, m.peakDbfs, m.clippingRatio, m.momentaryLufs);
    this.total += n;

    if (this.ring !== null) this.ring.push(x, n);
    else this.postSamples(x, n);

    if (this.meterWindow.pendingSamples >= this.windowSamples) this.publish();
    return true;
  }

  private publish(): void {
    const w = this.meterWindow;
    w.endWindow();
    const r = this.reading;
    r[METER.rmsDbfs] = w.rmsDbfs;
    r[METER.peakDbfs] = w.peakDbfs;
    r[METER.clippedSamples] = w.clippedSamples;
    r[METER.momentaryLufs] = w.momentaryLufs;
    r[METER.samples] = w.samples;
    r[METER.totalSamples] = this.total;
    r[METER.ringOverruns] = this.ring !== null ? this.ring.overruns : 0;
    if (this.block !== null) this.block.publish(r);
    else this.post({ type: 'meters', values: r.slice() });
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
