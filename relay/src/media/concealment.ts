/**
 * Concealment of lost packets (seed 004 §6): what plays in their place, written into the
 * framer in order before the packet that revealed the loss.
 *
 * - A codec with its own concealment conceals itself: Opus extrapolates with libopus's
 *   packet loss concealment, and takes the last lost frame from the next packet's in-band
 *   FEC when that packet carries it (RFC 6716 §2.1.7).
 * - PCM and G.711 have none: the last good frame is repeated with a fade, then silence
 *   (worklets/dsp/plc.ts).
 */
import { Concealer } from '../../../worklets/dsp/plc.ts';
import type { FrameDecoder } from './codecs/decoder.ts';
import type { Frame, SampleSink, Stage, StageStats } from './stage.ts';

export interface Concealment extends Stage {
  /**
   * Writes `packets` lost packets of `packetSamples` samples each into `sink`, before
   * `next`, the packet that came after them (its in-band FEC may hold the last one).
   */
  fill(packets: number, packetSamples: number, next: Uint8Array, arrivalMs: number, sink: SampleSink): void;
  /** A good frame went by (what the waveform concealment repeats). */
  remember(frame: Frame): void;
  /** 20 ms frames concealed so far. */
  readonly framesConcealed: number;
}

/** A decoder that conceals by itself (Opus). */
export interface ConcealingDecoder extends FrameDecoder {
  conceal(out: Float32Array, samples: number): number;
  recover(next: Uint8Array, out: Float32Array, samples: number): number;
}

export function concealsItself(d: FrameDecoder): d is ConcealingDecoder {
  return typeof (d as Partial<ConcealingDecoder>).conceal === 'function' && typeof (d as Partial<ConcealingDecoder>).recover === 'function';
}

/** Concealment by the codec (libopus PLC, and FEC for the last lost packet). */
export class CodecConcealment implements Concealment {
  private readonly buf: Float32Array;
  private concealedSamples = 0;

  constructor(
    private readonly decoder: ConcealingDecoder,
    private readonly frameSamples: number,
    maxPacketSamples: number,
  ) {
    this.buf = new Float32Array(maxPacketSamples);
  }

  get framesConcealed(): number {
    return Math.round(this.concealedSamples / this.frameSamples);
  }

  fill(packets: number, packetSamples: number, next: Uint8Array, arrivalMs: number, sink: SampleSink): void {
    for (let k = 1; k <= packets; k++) {
      const n = k === packets ? this.decoder.recover(next, this.buf, packetSamples) : this.decoder.conceal(this.buf, packetSamples);
      this.concealedSamples += n;
      sink.write(this.buf, n, arrivalMs, true);
    }
  }

  remember(): void {}

  stats(): StageStats {
    return { kind: 'codec', frames_concealed: this.framesConcealed };
  }
}

/** Waveform substitution: the last good frame repeated with a fade (PCM, G.711). */
export class WaveformConcealment implements Concealment {
  private readonly concealer: Concealer;
  private readonly buf: Float32Array;
  private concealedSamples = 0;

  constructor(private readonly frameSamples: number) {
    this.concealer = new Concealer(frameSamples);
    this.buf = new Float32Array(frameSamples);
  }

  get framesConcealed(): number {
    return Math.round(this.concealedSamples / this.frameSamples);
  }

  fill(packets: number, packetSamples: number, _next: Uint8Array, arrivalMs: number, sink: SampleSink): void {
    for (let left = packets * packetSamples; left > 0; ) {
      const n = Math.min(left, this.frameSamples);
      this.concealer.conceal(this.buf, n);
      this.concealedSamples += n;
      sink.write(this.buf, n, arrivalMs, true);
      left -= n;
    }
  }

  remember(frame: Frame): void {
    if (!frame.concealed) this.concealer.remember(frame.samples, frame.length);
  }

  stats(): StageStats {
    return { kind: 'waveform', frames_concealed: this.framesConcealed };
  }
}
