/**
 * What the capture page and the capture worklet tell each other: the processor's name, its
 * options, and the messages of its port. One place, used by both sides.
 */
import type { SampleRingBuffers } from './sample-ring.ts';

export const CAPTURE_PROCESSOR = 'tapwire-capture';

/** Samples per published meter reading and per encoder frame: 20 ms at 48 kHz. */
export const CAPTURE_FRAME_MS = 20;

export interface CaptureProcessorOptions {
  /** Samples go here when the page is cross-origin isolated; else they are posted. */
  ring: SampleRingBuffers | null;
  /** Meter readings go here when isolated; else they are posted. */
  meters: { seq: SharedArrayBuffer; values: SharedArrayBuffer } | null;
}

/** Processor -> page, only when not isolated (SharedArrayBuffer unavailable). */
export type CaptureProcessorMessage =
  | { type: 'frame'; samples: Float32Array }
  | { type: 'meters'; values: Float32Array };
