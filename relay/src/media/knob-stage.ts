/**
 * The knob chain (gain, high-pass, gate, compressor, limiter: worklets/dsp/chain.ts) between
 * the PRE and POST taps, and the changes scheduled for it. A change for bucket T applies
 * from T's first sample, never earlier and never mid-bucket (seed 000 §4); one asked for a
 * bucket the station has already started is refused, so a change is exact or refused,
 * never late. The latest request wins: a change replaces those pending for its bucket or
 * later ones.
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import { ProcessingChain } from '../../../worklets/dsp/chain.ts';
import type { Frame, FrameStage, StageStats } from './stage.ts';

export interface KnobChange {
  applyAtBucketTs: number;
  knobs: KnobValues;
  configVersion: number;
  eventId: number;
}

export class KnobStage implements FrameStage {
  private readonly chain: ProcessingChain;
  private pending: KnobChange[] = [];
  private current: { knobs: KnobValues; configVersion: number; lastKnobEventId: number | null };

  constructor(sampleRate: number, knobs: KnobValues, configVersion: number, lastKnobEventId: number | null) {
    this.chain = new ProcessingChain(sampleRate);
    this.chain.setKnobs(knobs);
    this.current = { knobs, configVersion, lastKnobEventId };
  }

  /** The knobs in force, their version and the event that set them. */
  get inForce(): Readonly<{ knobs: KnobValues; configVersion: number; lastKnobEventId: number | null }> {
    return this.current;
  }

  /**
   * Schedules a full knob set for the first sample of `change.applyAtBucketTs`, replacing the
   * changes pending for that bucket or later. `currentBucketTs` is the bucket of the next
   * sample; a change for it or an earlier one is refused.
   */
  schedule(change: KnobChange, currentBucketTs: number | null): 'bucket_started' | null {
    if (currentBucketTs !== null && change.applyAtBucketTs <= currentBucketTs) return 'bucket_started';
    this.pending = this.pending.filter((p) => p.applyAtBucketTs < change.applyAtBucketTs);
    this.pending.push(change);
    return null;
  }

  /** A new bucket starts: the latest change due by then takes effect from its first sample. */
  enterBucket(bucketTs: number): void {
    let change: KnobChange | undefined;
    while (this.pending.length > 0 && this.pending[0].applyAtBucketTs <= bucketTs) change = this.pending.shift();
    if (change === undefined) return;
    this.chain.setKnobs(change.knobs);
    this.current = { knobs: change.knobs, configVersion: change.configVersion, lastKnobEventId: change.eventId };
  }

  process(frame: Frame): void {
    this.chain.process(frame.samples, frame.length);
  }

  stats(): StageStats {
    return { config_version: this.current.configVersion, pending_changes: this.pending.length };
  }
}
