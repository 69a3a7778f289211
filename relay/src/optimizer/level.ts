/**
 * The active speech level of a segment: an independent yardstick for the optimizer's tests,
 * which measure the POST segments the relay serves with it. The optimizer itself decides
 * from the bucket rows' gated loudness (targets.ts) and fetches no audio.
 *
 * A bucket's `pcm.rms_dbfs.avg` is a plain mean of per-frame dB values in which silent frames
 * read -120, so a talker who pauses a third of the time looks 40 dB quieter than they are.
 * This is the RMS over the "active" 20 ms frames only, energy-averaged (a mean of mean
 * squares, not of dB values), in the spirit of the relative gate of ITU-R BS.1770-4 §5.1 and
 * the active speech level of ITU-T P.56, but simpler: a frame is active when it is within
 * `relativeGateDb` (40 dB) of the segment's loudest frame and above `absoluteGateDbfs`
 * (-70 dBFS). It differs from BS.1770 gating in its weighting (none) and its gate (relative
 * to the loudest 20 ms frame rather than 10 LU under the mean of 400 ms blocks).
 *
 * Levels are dBFS relative to a full-scale sample value of 1.0: a sine peaking at -26 dBFS
 * that talks only part of the time has a level of -29.01 dBFS, whatever the pauses.
 * Pure functions over Float32Array; nothing here allocates per frame.
 */

/** Frame length of the relay's meters (README "Meters"), ms. */
export const LEVEL_FRAME_MS = 20;

export interface LevelOptions {
  /** Frames more than this far below the loudest frame are not speech, dB (default 40). */
  relativeGateDb?: number;
  /** Frames at or below this RMS are not speech, dBFS (default -70). */
  absoluteGateDbfs?: number;
  /** Frame length, ms (default 20). */
  frameMs?: number;
}

export interface SegmentLevel {
  /** Energy-averaged RMS of the active frames, dBFS; null when no frame is active. */
  levelDbfs: number | null;
  /** Largest |sample| of the whole segment, dBFS; null for digital silence. */
  peakDbfs: number | null;
  /** RMS of the loudest 20 ms frame, dBFS; null for digital silence. */
  loudestFrameDbfs: number | null;
  /** Active frames, and frames in all (a last partial frame counts as one). */
  activeFrames: number;
  frames: number;
}

interface Gates {
  frameSamples: number;
  /** Mean square of the loudest frame. */
  loudest: number;
  /** Mean-square threshold a frame must exceed to be active. */
  minMeanSquare: number;
}

function frameSamplesOf(sampleRate: number, frameMs: number): number {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new TypeError(`sampleRate must be a positive integer in Hz, got ${sampleRate}`);
  if (!(frameMs > 0)) throw new TypeError(`frameMs must be positive, got ${frameMs}`);
  return Math.max(1, Math.round((sampleRate * frameMs) / 1000));
}

function meanSquare(x: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i] * x[i];
  return sum / (end - start);
}

/** The frame size and the activity threshold (as a mean square) for `x`. */
function gatesFor(x: Float32Array, sampleRate: number, opts: LevelOptions): Gates {
  const frameSamples = frameSamplesOf(sampleRate, opts.frameMs ?? LEVEL_FRAME_MS);
  let loudest = 0;
  for (let start = 0; start < x.length; start += frameSamples) {
    const ms = meanSquare(x, start, Math.min(x.length, start + frameSamples));
    if (ms > loudest) loudest = ms;
  }
  const relative = loudest * Math.pow(10, -(opts.relativeGateDb ?? 40) / 10);
  const absolute = Math.pow(10, (opts.absoluteGateDbfs ?? -70) / 10);
  return { frameSamples, loudest, minMeanSquare: Math.max(relative, absolute) };
}

const toDb = (meanSq: number): number => 10 * Math.log10(meanSq);

/** The speech level and sample peak of one mono segment (see the file comment). */
export function speechLevel(x: Float32Array, sampleRate: number, opts: LevelOptions = {}): SegmentLevel {
  const { frameSamples, loudest, minMeanSquare } = gatesFor(x, sampleRate, opts);
  let energy = 0;
  let samples = 0;
  let activeFrames = 0;
  let frames = 0;
  let peak = 0;
  for (let start = 0; start < x.length; start += frameSamples) {
    const end = Math.min(x.length, start + frameSamples);
    let sum = 0;
    for (let i = start; i < end; i++) {
      const v = x[i];
      sum += v * v;
      const a = v < 0 ? -v : v;
      if (a > peak) peak = a;
    }
    frames++;
    if (sum / (end - start) > minMeanSquare) {
      energy += sum;
      samples += end - start;
      activeFrames++;
    }
  }
  return {
    levelDbfs: samples > 0 ? toDb(energy / samples) : null,
    peakDbfs: peak > 0 ? 20 * Math.log10(peak) : null,
    loudestFrameDbfs: loudest > 0 ? toDb(loudest) : null,
    activeFrames,
    frames,
  };
}
