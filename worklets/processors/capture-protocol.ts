/**
 * What the capture page and the capture worklet tell each other: the processor's name, its
 * options, and the messages of its port. One place, used by both sides.
 */
import type { MeterBlockBuffers } from './meter-block.ts';
import type { SampleRingBuffers } from './sample-ring.ts';

export const CAPTURE_PROCESSOR = 'tapwire-capture';

/** Samples per encoder frame (and, by default, per published meter reading): 20 ms at 48 kHz. */
export const CAPTURE_FRAME_MS = 20;

export interface CaptureProcessorOptions {
  /** Samples go here when the page is cross-origin isolated; else they are posted. */
  ring: SampleRingBuffers | null;
  /** Meter readings (meter-block.ts layout) go here when isolated; else they are posted. */
  meters: MeterBlockBuffers | null;
  /**
   * A meter reading is published every this many ms of audio, rounded up to whole render
   * quanta (at least one). Default CAPTURE_FRAME_MS. The page needs no more than its frame
   * rate; a test that reads the meters at exact sample positions asks for one quantum.
   */
  readingMs?: number;
}

/** Processor -> page, only when not isolated (SharedArrayBuffer unavailable). */
export type CaptureProcessorMessage =
  | { type: 'frame'; samples: Float32Array }
  | { type: 'meters'; values: Float64Array };

/**
 * Page -> processor. `reset-loudness` starts a new measurement of integrated loudness,
 * loudness range and the maxima (true peak, momentary, short-term), as an R128 meter's
 * reset does. Momentary loudness goes on; short-term loudness starts again (over what it
 * has seen until 3 s have passed).
 */
export type CaptureCommand = { type: 'reset-loudness' };
