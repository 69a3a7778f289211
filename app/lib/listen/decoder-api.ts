/**
 * The low-latency player's decoder worker, as the page sees it through comlink
 * (decoder.worker.ts implements it). Kept apart from the worker so the page imports types
 * only.
 */
import type { FrameRingBuffers } from '../../../worklets/processors/frame-ring.ts';

export type DecoderKind = 'webcodecs' | 'wasm';

export interface DecoderOptions {
  /** The worklet's frame ring when the page is cross-origin isolated. */
  ring: FrameRingBuffers | null;
  /** Not isolated: decoded frames go to the worklet through this port (PlayoutFrameMessage). */
  port: MessagePort | null;
  /** 'auto' takes WebCodecs' AudioDecoder where it decodes Opus, else the WebAssembly decoder. */
  prefer: DecoderKind | 'auto';
}

export interface DecoderStats {
  decoder: DecoderKind | null;
  /** Messages received. */
  packets: number;
  /** Frames handed to the worklet. */
  frames: number;
  /** Packets the decoder refused (and decoder failures). */
  decodeErrors: number;
  /** Messages that were not an Opus packet behind a frame header. */
  malformed: number;
}

export interface DecoderApi {
  /** Loads a decoder; resolves with the one in use. */
  start(opts: DecoderOptions): Promise<DecoderKind>;
  /** One binary message of the listen socket and when it arrived (the page's performance.now(), ms). */
  push(message: ArrayBuffer, arrivalMs: number): void;
  /** A new connection: a new numbering and a fresh decoder state. */
  restart(): Promise<void>;
  stats(): DecoderStats;
  close(): void;
}
