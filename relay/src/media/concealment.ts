/**
 * Concealment of lost packets (seed 004 §6): what plays in their place, written into the
 * framer in order before the packet that revealed the loss.
 *
 * - A codec with its own concealment conceals itself: Opus extrapolates with libopus's
 *   packet loss concealment, and takes the last lost frame from the next packet's in-band
 *   FEC when that packet carries it (RFC 6716 §2.1.7).
 * - PCM and G.711 have none: the loss is filled by pitch-period waveform substitution
 *   after ITU-T G.711 Appendix I (worklets/dsp/pitch-plc.ts), fading to silence at 60 ms,
 *   and the first good packet after it is cross-faded from the synthetic signal.
 */
import { PitchConcealer } from '../../../worklets/dsp/pitch-plc.ts';
import type { FrameDecoder } from './codecs/decoder.ts';
import type { SampleSink, Stage, StageStats } from './stage.ts';

export interface Concealment extends Stage {
  /**
   * Writes `packets` lost packets of `packetSamples` samples each into `sink`, before
   * `next`, the packet that came after them when it is known (its in-band FEC may hold
   * the last one).
   */
  fill(packets: number, packetSamples: number, next: Uint8Array | undefined, arrivalMs: number, sink: SampleSink): void;
  /**
   * A good packet was decoded into samples[0..length), before it goes on to the sink: the
   * history waveform concealment works from, and, for the first one after a loss, where
   * it cross-fades from the concealment (in place).
   */
  decoded(samples: Float32Array, length: number): void;
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

  fill(packets: number, packetSamples: number, next: Uint8Array | undefined, arrivalMs: number, sink: SampleSink): void {
    for (let k = 1; k <= packets; k++) {
      const n = k === packets && next !== undefined ? this.decoder.recover(next, this.buf, packetSamples) : this.decoder.conceal(this.buf, packetSamples);
      this.concealedSamples += n;
      sink.write(this.buf, n, arrivalMs, true);
    }
  }

  decoded(): void {}

  stats(): StageStats {
    return { kind: 'codec', frames_concealed: this.framesConcealed };
  }
}

/** Pitch-period waveform substitution (PCM, G.711, G.722): ITU-T G.711 Appendix I's method. */
export class WaveformConcealment implements Concealment {
  private readonly concealer: PitchConcealer;
  private readonly buf: Float32Array;
  private concealedSamples = 0;

  /** @param frameSamples 20 ms at `sampleRate` (the unit framesConcealed counts in). */
  constructor(
    private readonly frameSamples: number,
    sampleRate: number,
  ) {
    this.concealer = new PitchConcealer(sampleRate);
    this.buf = new Float32Array(frameSamples);
  }

  get framesConcealed(): number {
    return Math.round(this.concealedSamples / this.frameSamples);
  }

  fill(packets: number, packetSamples: number, _next: Uint8Array | undefined, arrivalMs: number, sink: SampleSink): void {
    for (let left = packets * packetSamples; left > 0; ) {
      const n = Math.min(left, this.frameSamples);
      this.concealer.conceal(this.buf, n);
      this.concealedSamples += n;
      sink.write(this.buf, n, arrivalMs, true);
      left -= n;
    }
  }

  decoded(samples: Float32Array, length: number): void {
    this.concealer.recover(samples, length);
  }

  stats(): StageStats {
    return { kind: 'waveform', frames_concealed: this.framesConcealed };
  }
}
