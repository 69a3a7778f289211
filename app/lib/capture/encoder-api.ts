/**
 * The encoder worker's interface, as the page sees it through comlink (encoder.worker.ts
 * implements it). Kept apart from the worker so the page imports types only.
 */
import type { SampleRingBuffers } from '$worklets/processors/sample-ring';

export interface EncoderOptions {
  /** The capture context's rate; 48000 keeps the encoder from resampling. */
  sampleRate: number;
  /** Opus target bitrate, bits/s (32 kbps default). */
  bitrate: number;
  /** libopus complexity 0-10. */
  complexity: number;
  /** The worklet's ring when the page is cross-origin isolated; null: frames come by `push`. */
  ring: SampleRingBuffers | null;
  /** URL of opus-recorder's encoderWorker.min.js (a Vite asset URL). */
  opusWorkerUrl: string;
}

export interface EncodedPacket {
  /** 0, 1, 2, ...: packet i holds samples [i * 20 ms, (i + 1) * 20 ms) of the session. */
  index: number;
  /** A raw Opus packet (RFC 6716), out of its Ogg page. */
  data: Uint8Array;
}

export interface EncoderStats {
  framesIn: number;
  packetsOut: number;
  /** Samples the worklet could not put in the ring (the encoder fell behind). */
  ringOverruns: number;
  /** Wall time (epoch ms) of the first sample of packet 0, once known. */
  firstSampleWallMs: number | null;
  /** Opus bytes produced (packets only, no Ogg framing). */
  bytesOut: number;
  /** The bitrate libopus reports it is set to, bits/s. */
  bitrateBps: number;
}

export interface EncoderApi {
  /**
   * Starts encoding (resolves once the encoder is ready); `onPackets` receives packets in
   * order as they are produced, with the wall time (epoch ms) of packet 0's first sample.
   */
  start(opts: EncoderOptions, onPackets: (packets: EncodedPacket[], firstSampleWallMs: number) => void): Promise<void>;
  /** Fallback path: one 20 ms frame from the worklet. */
  push(frame: Float32Array): void;
  /** Encodes what is left, delivers the last packets, and stops. */
  stop(): Promise<EncoderStats>;
  stats(): EncoderStats;
  /**
   * Changes the Opus bitrate while encoding (OPUS_SET_BITRATE): frames queued before the call
   * are encoded at the old rate, the next at the new one, with no gap or restart. Resolves with
   * the bitrate libopus reports afterwards, bits/s.
   */
  setBitrate(bps: number): Promise<number>;
  /** The encoder's OpusHead once produced (for writing a playable file). */
  opusHead(): Uint8Array | null;
}
