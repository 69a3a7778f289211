/**
 * Whether a knob event took effect, judged from the buckets alone: the bucket it applies at
 * must carry the event's effective values in its `knobs_snapshot` and the event's
 * `config_version` (seed 000 §5.2, §5.4). Pure, so the page and its tests agree on it.
 */
import type { KnobEvent, SnapshotEntry } from '$protocol/optimizer-api';

export type VerificationState = 'verified' | 'pending' | 'failed' | 'superseded';

export interface Verification {
  state: VerificationState;
  /** Why, for the log: what was missing or differed. */
  detail: string;
}

/** What the verifier reads of a bucket. */
export type BucketKnobs = Pick<SnapshotEntry, 'bucket_ts' | 'knobs_snapshot' | 'config_version'>;

/** What the verifier needs of one station's complete buckets. */
export interface StationBuckets {
  /** The complete bucket starting at `bucketTsMs`, if it is known. */
  get(bucketTsMs: number): BucketKnobs | undefined;
  /** Start of the latest complete bucket seen, ms since the epoch; null before the first. */
  readonly latestTsMs: number | null;
}

/** Knob values are stored as JSON numbers; allow for a float printed and parsed again. */
const NUMBER_TOLERANCE = 1e-9;

function sameValue(a: number | boolean | undefined, b: number | boolean): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= NUMBER_TOLERANCE * Math.max(1, Math.abs(b));
  return a === b;
}

export function verifyKnobEvent(event: KnobEvent, buckets: StationBuckets | undefined): Verification {
  if (event.superseded_by !== null) return { state: 'superseded', detail: `replaced by event ${event.superseded_by}` };
  const applyMs = Date.parse(event.apply_at_bucket_ts);
  const bucket = buckets?.get(applyMs);
  if (bucket === undefined) {
    const latest = buckets?.latestTsMs ?? null;
    // Complete buckets arrive in order: a later one means this one was never stored.
    if (latest !== null && latest > applyMs) return { state: 'failed', detail: 'no bucket was stored at that time' };
    return { state: 'pending', detail: 'bucket not complete yet' };
  }
  const problems: string[] = [];
  if (bucket.config_version !== event.config_version) {
    problems.push(`config_version ${bucket.config_version}, expected ${event.config_version}`);
  }
  const snapshot = bucket.knobs_snapshot as Record<string, number | boolean>;
  for (const [name, value] of Object.entries(event.knobs_effective as Record<string, number | boolean>)) {
    if (!sameValue(snapshot[name], value)) problems.push(`${name} ${String(snapshot[name])}, expected ${String(value)}`);
  }
  return problems.length === 0 ? { state: 'verified', detail: 'bucket shows the effective values' } : { state: 'failed', detail: problems.join('; ') };
}
