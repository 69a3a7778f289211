/**
 * The capture worklet: microphone samples in, meters and 20 ms frames out. Thin, as the
 * style asks: it downmixes to mono, runs the shared meter kernels (worklets/dsp/meters.ts
 * per block, meter-window.ts per reading: the same code as the relay's PRE tap and its
 * telemetry) and hands samples on.
 *
 * Each reading carries today's RMS and sample peak and EBU R128's figures (EBU Tech 3341
 * "EBU Mode"): momentary, short-term and integrated loudness, loudness range (Tech 3342) and
 * true peak, all from FrameMeter's one pass and its gating state. The station is mono and
 * metered as one channel (BS.1770-4, G = 1.0): a stereo input is averaged first.
 *
 * With cross-origin isolation, samples go to the encoder worker through a SharedArrayBuffer
 * ring and meter readings into a shared seqlock block: nothing in `process()` allocates or
 * posts. Without it, the fallback posts a copied 20 ms frame and a meter reading every
 * 20 ms (allocating, but once per frame rather than per render quantum).
 */
import { DB_FLOOR } from '../dsp/constants.ts';
import { SHORT_TERM_WINDOW_MS, STEP_MS } from '../dsp/loudness.ts';
import { MeterWindow } from '../dsp/meter-window.ts';
import { FrameMeter, MOMENTARY_WINDOW_MS } from '../dsp/meters.ts';
import { CAPTURE_FRAME_MS, CAPTURE_PROCESSOR, type CaptureCommand, type CaptureProcessorMessage, type CaptureProcessorOptions } from './capture-protocol.ts';
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
  /** The reading being aggregated: at least `readingSamples` samples, in whole render quanta. */
  private readonly meterWindow = new MeterWindow();
  private readonly mono = new Float32Array(QUANTUM);
  private readonly reading = new Float64Array(METER_VALUES);
  private readonly frameSamples = Math.round((sampleRate * CAPTURE_FRAME_MS) / 1000);
  private readonly readingSamples: number;
  /** A momentary value counts towards its maximum once its 400 ms window is full... */
  private readonly momentarySamples = Math.round((sampleRate * MOMENTARY_WINDOW_MS) / 1000);
  /**
   * ...and a short-term value once its 3 s are: 30 steps, when the 27th 400 ms block (one at
   * every step from the 4th) has completed since the reset.
   */
  private readonly shortTermBlocks = (SHORT_TERM_WINDOW_MS - MOMENTARY_WINDOW_MS) / STEP_MS + 1;
  private readonly ring: SampleRing | null;
  private readonly block: MeterBlock | null;
  /** Fallback only: the frame being filled for posting. */
  private readonly frame: Float32Array | null;
  private frameFill = 0;
  /** Samples seen since the worklet started. */
  private total = 0;

  // The R128 measurement since the last loudness reset.
  private loudnessStart = 0;
  private loudnessResets = 0;
  private maxMomentary = DB_FLOOR;
  private maxShortTerm = DB_FLOOR;
  private maxTruePeak = DB_FLOOR;
  /** I and LRA change only when a 400 ms block completes (every 100 ms step): computed then. */
  private gatedAtBlocks = -1;
  private integrated = Number.NaN;
  private range = Number.NaN;

  constructor(options?: AudioWorkletNodeOptions) {
    super(options);
    const opts = (options?.processorOptions ?? { ring: null, meters: null }) as CaptureProcessorOptions;
    this.ring = opts.ring ? new SampleRing(opts.ring) : null;
    this.block = opts.meters ? new MeterBlock(opts.meters) : null;
    this.frame = this.ring === null ? new Float32Array(this.frameSamples) : null;
    const readingMs = opts.readingMs ?? CAPTURE_FRAME_MS;
    this.readingSamples = Math.max(1, Math.round((sampleRate * readingMs) / 1000));
    this.port.onmessage = (e: MessageEvent<CaptureCommand>) => {
      if (e.data?.type === 'reset-loudness') this.resetLoudness();
    };
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
    this.meterWindow.add(n, m.rmsDbfs, m.peakDbfs, m.clippingRatio, m.momentaryLufs, m.shortTermLufs, m.truePeakDbtp);
    this.total += n;
    // M moves every block, so its maximum is kept here; S moves once per 100 ms step and
    // true peak is kept per window, so theirs are taken at publication.
    if (m.momentaryLufs > this.maxMomentary && this.total >= this.momentarySamples) this.maxMomentary = m.momentaryLufs;

    if (this.ring !== null) this.ring.push(x, n);
    else this.postSamples(x, n);

    if (this.meterWindow.pendingSamples >= this.readingSamples) this.publish();
    return true;
  }

  /** A new R128 measurement: I, LRA and the maxima start again (EBU Tech 3341's reset). */
  private resetLoudness(): void {
    this.meter.loudness.reset();
    this.loudnessStart = this.total;
    this.loudnessResets++;
    this.maxMomentary = this.maxShortTerm = this.maxTruePeak = DB_FLOOR;
    this.gatedAtBlocks = -1;
  }

  private publish(): void {
    const w = this.meterWindow;
    w.endWindow();
    const loudness = this.meter.loudness;
    if (loudness.blocks !== this.gatedAtBlocks) {
      this.gatedAtBlocks = loudness.blocks;
      this.integrated = loudness.integratedLufs() ?? Number.NaN;
      this.range = loudness.loudnessRangeLu() ?? Number.NaN;
    }
    if (w.shortTermLufs > this.maxShortTerm && loudness.blocks >= this.shortTermBlocks) this.maxShortTerm = w.shortTermLufs;
    if (w.truePeakDbtp > this.maxTruePeak) this.maxTruePeak = w.truePeakDbtp;

    const r = this.reading;
    r[METER.rmsDbfs] = w.rmsDbfs;
    r[METER.peakDbfs] = w.peakDbfs;
    r[METER.clippedSamples] = w.clippedSamples;
    r[METER.momentaryLufs] = w.momentaryLufs;
    r[METER.samples] = w.samples;
    r[METER.totalSamples] = this.total;
    r[METER.ringOverruns] = this.ring !== null ? this.ring.overruns : 0;
    r[METER.shortTermLufs] = w.shortTermLufs;
    r[METER.integratedLufs] = this.integrated;
    r[METER.loudnessRangeLu] = this.range;
    r[METER.truePeakDbtp] = w.truePeakDbtp;
    r[METER.maxTruePeakDbtp] = this.maxTruePeak;
    r[METER.maxMomentaryLufs] = this.maxMomentary;
    r[METER.maxShortTermLufs] = this.maxShortTerm;
    r[METER.loudnessSamples] = this.total - this.loudnessStart;
    r[METER.loudnessResets] = this.loudnessResets;
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
