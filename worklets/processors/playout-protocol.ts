/**
 * What the low-latency player's page, decoder worker and playout worklet tell each other:
 * the processor's name and options, the layout of its published figures, and the messages
 * of its ports. One place, used by all three.
 */
import type { FrameRingBuffers } from './frame-ring.ts';
import type { StatsBlockBuffers } from './stats-block.ts';

export const PLAYOUT_PROCESSOR = 'tapwire-playout';

/** Frames the decoder-to-worklet ring holds (640 ms of 20 ms frames). */
export const PLAYOUT_RING_FRAMES = 32;

export interface PlayoutProcessorOptions {
  /** Decoded frames arrive here when the page is cross-origin isolated; else on a MessagePort (`frames` command). */
  ring: FrameRingBuffers | null;
  /** Figures are published here when isolated; else posted (`stats` messages). */
  stats: StatsBlockBuffers | null;
  /** Samples of a nominal frame (960: 20 ms at 48 kHz). */
  frameSamples: number;
  /** The longest frame the decoder may deliver, samples. */
  maxFrameSamples: number;
  /** Jitter buffer target bounds, ms (seed 004 §5: 20-200). */
  minDelayMs: number;
  maxDelayMs: number;
}

/** Fields of the published figures (a Float64Array of PLAYOUT_VALUES). */
export const PLAYOUT = {
  /** Audio queued ahead of the playhead, ms. */
  bufferMs: 0,
  /** The jitter buffer's target delay, ms. */
  targetMs: 1,
  /** RFC 3550 arrival jitter, ms. */
  jitterMs: 2,
  concealedFrames: 3,
  lateFrames: 4,
  /** Underruns (stalls): the buffer ran dry and went back to buffering. */
  underruns: 5,
  /** Frames dropped to hold the latency near the target. */
  skippedFrames: 6,
  /** Frames dropped because the buffer was full. */
  overflowFrames: 7,
  receivedFrames: 8,
  playedFrames: 9,
  /** PlayoutBuffer MODE: 0 idle, 1 buffering, 2 playing. */
  mode: 10,
  /** Context frame (AudioWorkletGlobalScope.currentFrame) of the first real sample played, or -1. */
  firstAudioFrame: 11,
  /** Bursts after silence found in the output (OnsetDetector). */
  onsets: 12,
  /** Context frame of the last onset's first sample, or -1. */
  lastOnsetFrame: 13,
  /** currentFrame at publication. */
  currentFrame: 14,
  /** Frames the decoder could not put in the ring (the worklet fell behind). */
  ringOverruns: 15,
  /** 1 while paused. */
  paused: 16,
} as const;
export const PLAYOUT_VALUES = 17;

/** Page -> worklet, on the node's port. */
export type PlayoutCommand =
  /** Not isolated: decoded frames will come on this port (from the decoder worker). */
  | { type: 'frames'; port: MessagePort }
  /** A new connection or a resume at the live edge: forget the queued frames and the jitter history. */
  | { type: 'reset' }
  /** Paused: output silence and hold playout. */
  | { type: 'paused'; paused: boolean };

/** Decoder worker -> worklet, one decoded frame (not isolated). */
export interface PlayoutFrameMessage {
  seq: number;
  timestampMs: number;
  arrivalMs: number;
  pcm: Float32Array;
}

/** Worklet -> page, only when not isolated: the figures (PLAYOUT layout), about 20 times a second. */
export interface PlayoutStatsMessage {
  type: 'stats';
  values: Float64Array;
}
