/**
 * Wall-clock buckets (seed 000 §4) and the mapping of a station's samples onto them
 * (ARCHITECTURE.md, "Time").
 *
 * Buckets are `bucketMs` long and aligned to the relay's UTC clock. A station's media time
 * maps to wall time once, at its first packet; after that its sample count, not arrival
 * times, decides which bucket a sample is in. The relay processes audio in frames of
 * `PROCESSING_FRAME_MS`; the station's origin is put on that grid, so that every bucket
 * boundary falls exactly on a frame boundary and a knob change for bucket T starts at
 * T's first sample.
 */

export const PROCESSING_FRAME_MS = 20;

export function bucketStartMs(wallMs: number, bucketMs: number): number {
  return Math.floor(wallMs / bucketMs) * bucketMs;
}

/** ISO-8601 with milliseconds, UTC: `2026-01-03T21:15:00.000Z`. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

const ISO_MS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/**
 * Parses a UTC ISO-8601 timestamp; null when it is not one, or not a real instant since
 * 1970: `Date.parse` rolls `2026-02-30` over to March 2 and takes year 0000, so the fields
 * are checked against the date they make.
 */
export function parseIsoMs(text: string): number | null {
  const m = ISO_MS.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, Number((m[7] ?? '0').padEnd(3, '0')));
  const d = new Date(ms);
  const real =
    year >= 1970 &&
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month - 1 &&
    d.getUTCDate() === day &&
    d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute &&
    d.getUTCSeconds() === second;
  return real ? ms : null;
}

/** True when the clock has passed the bucket's end plus the grace for late packets. */
export function isBucketComplete(bucketTs: number, nowMs: number, bucketMs: number, graceMs: number): boolean {
  return nowMs >= bucketTs + bucketMs + graceMs;
}

/**
 * One station's timeline, counted in processing frames. Frame `k` covers wall time
 * `[originMs + 20k, originMs + 20(k+1))`; `originMs` is a multiple of 20 ms.
 */
export class StationTimeline {
  readonly originMs: number;
  readonly frameSamples: number;

  constructor(
    readonly sampleRate: number,
    firstArrivalMs: number,
    readonly bucketMs: number,
  ) {
    if ((sampleRate * PROCESSING_FRAME_MS) % 1000 !== 0) {
      throw new RangeError(`sample rate ${sampleRate} Hz does not give whole ${PROCESSING_FRAME_MS} ms frames`);
    }
    this.frameSamples = (sampleRate * PROCESSING_FRAME_MS) / 1000;
    this.originMs = Math.floor(firstArrivalMs / PROCESSING_FRAME_MS) * PROCESSING_FRAME_MS;
  }

  frameWallMs(frameIndex: number): number {
    return this.originMs + frameIndex * PROCESSING_FRAME_MS;
  }

  bucketOfFrame(frameIndex: number): number {
    return bucketStartMs(this.frameWallMs(frameIndex), this.bucketMs);
  }

  /** Sample offset of frame `frameIndex` inside its bucket (exact: integer arithmetic). */
  sampleOffsetInBucket(frameIndex: number): number {
    const wall = this.frameWallMs(frameIndex);
    return ((wall - bucketStartMs(wall, this.bucketMs)) * this.sampleRate) / 1000;
  }

  /** The first frame index whose wall time is at or after `wallMs`. */
  frameAtOrAfter(wallMs: number): number {
    return Math.max(0, Math.ceil((wallMs - this.originMs) / PROCESSING_FRAME_MS));
  }

  /** Samples in one whole bucket. */
  get bucketSamples(): number {
    return (this.bucketMs * this.sampleRate) / 1000;
  }
}
