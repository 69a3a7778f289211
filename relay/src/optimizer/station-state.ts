/**
 * What the optimizer remembers of one station between loops. Everything else it reads
 * from the relay each loop (seed 000 §2.6: the server is the source of truth); this is
 * only what a pull cannot tell: a change awaiting verification, or a halt.
 */
import type { HoldCode } from './policy.ts';
import type { PendingChange } from './verify.ts';

export type StationPhase =
  /** Free to decide on the next bucket. */
  | { kind: 'ready' }
  /** A change was accepted; the next loops verify it (seed 000 §6). Nothing else is decided meanwhile. */
  | { kind: 'pending'; change: PendingChange }
  /**
   * A change failed verification. The station is left alone until a knob event for it
   * from another source than the optimizer's appears with an id above `afterEventId`
   * (an operator's reset), or the optimizer restarts.
   */
  | { kind: 'halted'; reason: string; afterEventId: number };

export interface StationState {
  traceId: string;
  stationKey: string;
  phase: StationPhase;
  /** The newest bucket seen, epoch ms (-Infinity before the first). */
  lastBucketMs: number;
  /** That bucket's config_version (null before the first): tells whether the next one carries a knob change (evidence.ts rule 5). */
  lastConfigVersion: number | null;
  /**
   * Decide nothing until a bucket shows at least this config_version: a change someone
   * scheduled (before the optimizer started, or an operator's reset) is not in force yet.
   */
  awaitConfigVersion: number;
  /** The last hold logged, so that a station that stays in target is logged once. */
  lastHold: HoldCode | 'halted' | 'waiting' | null;
}

export function newStationState(traceId: string, stationKey: string): StationState {
  return { traceId, stationKey, phase: { kind: 'ready' }, lastBucketMs: -Infinity, lastConfigVersion: null, awaitConfigVersion: 0, lastHold: null };
}

/** The state as JSON, for a status line or a test. */
export function describeStation(s: StationState): Record<string, unknown> {
  const phase =
    s.phase.kind === 'pending'
      ? { kind: 'pending', apply_at_ms: s.phase.change.applyAtMs, config_version: s.phase.change.configVersion, knobs: s.phase.change.effectiveKnobs }
      : s.phase.kind === 'halted'
        ? { kind: 'halted', reason: s.phase.reason, after_event_id: s.phase.afterEventId }
        : { kind: 'ready' };
  return { trace_id: s.traceId, station_key: s.stationKey, phase, last_bucket_ms: Number.isFinite(s.lastBucketMs) ? s.lastBucketMs : null, await_config_version: s.awaitConfigVersion };
}
