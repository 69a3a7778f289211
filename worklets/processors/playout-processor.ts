/**
 * The low-latency player's output: decoded frames in (from the decoder worker), a steady
 * stream of samples out through the adaptive jitter buffer (worklets/dsp/playout-buffer.ts,
 * seed 004 §5). Thin, as the style asks: it moves frames from the ring (or its port) into
 * the buffer, pulls one render quantum, watches the output for bursts after silence (so a
 * test can time the whole path) and publishes the buffer's figures.
 *
 * With cross-origin isolation, frames come through a SharedArrayBuffer ring and figures go
 * into a shared seqlock block: nothing in `process()` allocates or posts. Without it,
 * frames arrive as messages on a port from the decoder worker and the figures are posted
 * about 20 times a second.
 */
import { OnsetDetector } from '../dsp/onset-detector.ts';
import { MODE, PlayoutBuffer } from '../dsp/playout-buffer.ts';
import { FrameRing } from './frame-ring.ts';
import { PLAYOUT, PLAYOUT_PROCESSOR, PLAYOUT_VALUES, type PlayoutCommand, type PlayoutFrameMessage, type PlayoutProcessorOptions, type PlayoutStatsMessage } from './playout-protocol.ts';
import { StatsBlock } from './stats-block.ts';

// The AudioWorkletGlobalScope (Web Audio API §1.32), which TypeScript's DOM library does not
// describe; declared here, in this module only, so no other file sees these globals.
declare const sampleRate: number;
declare const currentFrame: number;
declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
  abstract process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean;
}
declare function registerProcessor(name: string, ctor: new (options?: AudioWorkletNodeOptions) => AudioWorkletProcessor): void;

/** Figures are published every this many render quanta (about 10 ms) into shared memory... */
const PUBLISH_QUANTA = 4;
/** ...or posted every this many (about 53 ms) without it. */
const POST_QUANTA = 20;

class PlayoutProcessor extends AudioWorkletProcessor {
  private readonly buffer: PlayoutBuffer;
  private readonly onset = new OnsetDetector(sampleRate);
  private readonly ring: FrameRing | null;
  private readonly block: StatsBlock | null;
  private readonly values = new Float64Array(PLAYOUT_VALUES);
  private readonly pcm: Float32Array;
  private readonly header = new Float64Array(3);
  private paused = false;
  private quanta = 0;
  private firstAudioFrame = -1;

  constructor(options?: AudioWorkletNodeOptions) {
    super(options);
    const opts = options?.processorOptions as PlayoutProcessorOptions;
    this.buffer = new PlayoutBuffer({
      sampleRate,
      frameSamples: opts.frameSamples,
      maxFrameSamples: opts.maxFrameSamples,
      minDelayMs: opts.minDelayMs,
      maxDelayMs: opts.maxDelayMs,
    });
    this.ring = opts.ring ? new FrameRing(opts.ring) : null;
    this.block = opts.stats ? new StatsBlock(opts.stats) : null;
    this.pcm = new Float32Array(opts.maxFrameSamples);
    this.port.onmessage = (e: MessageEvent<PlayoutCommand>) => this.command(e.data);
  }

  private command(cmd: PlayoutCommand): void {
    switch (cmd.type) {
      case 'frames':
        cmd.port.onmessage = (e: MessageEvent<PlayoutFrameMessage>) => {
          const f = e.data;
          this.buffer.push(f.seq, f.timestampMs, f.arrivalMs, f.pcm, f.pcm.length);
        };
        break;
      case 'reset':
        this.buffer.reset();
        break;
      case 'paused':
        this.paused = cmd.paused;
        break;
    }
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const ring = this.ring;
    if (ring !== null) {
      const header = this.header;
      for (let n = ring.pop(this.pcm, header); n >= 0; n = ring.pop(this.pcm, header)) {
        if (n > 0) this.buffer.push(header[0], header[1], header[2], this.pcm, n);
      }
    }
    const channels = outputs[0];
    const out = channels[0];
    const n = out.length;
    if (this.paused) {
      out.fill(0);
      this.onset.disarm();
    } else {
      const b = this.buffer;
      const before = b.samplesOut;
      b.pull(out, n);
      if (this.firstAudioFrame < 0 && b.firstAudioSample >= 0) this.firstAudioFrame = currentFrame + (b.firstAudioSample - before);
      // Silence while buffering is the player's, not the station's: no onset after it.
      if (b.mode !== MODE.playing) this.onset.disarm();
      this.onset.process(out, n, currentFrame);
    }
    for (let c = 1; c < channels.length; c++) channels[c].set(out);

    this.quanta++;
    if (this.block !== null) {
      if (this.quanta % PUBLISH_QUANTA === 0) this.block.publish(this.figures());
    } else if (this.quanta % POST_QUANTA === 0) {
      const msg: PlayoutStatsMessage = { type: 'stats', values: this.figures().slice() };
      this.port.postMessage(msg);
    }
    return true;
  }

  private figures(): Float64Array {
    const b = this.buffer;
    const v = this.values;
    v[PLAYOUT.bufferMs] = b.bufferedMs;
    v[PLAYOUT.targetMs] = b.targetMs;
    v[PLAYOUT.jitterMs] = b.jitterMs;
    v[PLAYOUT.concealedFrames] = b.concealedFrames;
    v[PLAYOUT.lateFrames] = b.lateFrames;
    v[PLAYOUT.underruns] = b.underruns;
    v[PLAYOUT.skippedFrames] = b.skippedFrames;
    v[PLAYOUT.overflowFrames] = b.overflowFrames;
    v[PLAYOUT.receivedFrames] = b.receivedFrames;
    v[PLAYOUT.playedFrames] = b.playedFrames;
    v[PLAYOUT.mode] = b.mode;
    v[PLAYOUT.firstAudioFrame] = this.firstAudioFrame;
    v[PLAYOUT.onsets] = this.onset.onsets;
    v[PLAYOUT.lastOnsetFrame] = this.onset.lastOnsetSample;
    v[PLAYOUT.currentFrame] = currentFrame;
    v[PLAYOUT.ringOverruns] = this.ring !== null ? this.ring.overruns : 0;
    v[PLAYOUT.paused] = this.paused ? 1 : 0;
    return v;
  }
}

registerProcessor(PLAYOUT_PROCESSOR, PlayoutProcessor);
