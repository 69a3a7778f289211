/**
 * The optimizer contract's JSON (seed 000 §5): the shapes the relay's REST API answers and
 * accepts, shared by the relay, the reference optimizer and the tests.
 */
import type { KnobPatch, KnobValues } from './knobs.ts';
import type { MetricAggregate, Tap } from './metrics.ts';

/** §5.1 */
export interface ActiveTrace {
  trace_id: string;
  started_at: string;
  src_extension: string | null;
  dst_extension: string | null;
  call_id?: string | null;
  stations: string[];
}

/** §5.2: one (bucket, station) entry of a snapshot. */
export interface SnapshotEntry {
  bucket_ts: string;
  bucket_ms: number;
  station_key: string;
  knobs_snapshot: KnobValues;
  /** Per tap, per metric name; a relay may add metrics the optimizer does not know. */
  metrics: Record<Tap, Record<string, MetricAggregate | undefined>>;
  audio: Record<Tap, { endpoint: string }>;
  config_version: number;
  last_knob_event_id: number | null;
}

/** §5.4 request body. */
export interface ApplyRequest {
  trace_id: string;
  station_key: string;
  apply_at_bucket_ts: string;
  idempotency_key: string;
  /** Who asks (stored with the knob event). */
  source?: string;
  /** Why (stored with the knob event). */
  reason?: string;
  knobs: KnobPatch;
}

/** §5.4 response. */
export interface ApplyResponse {
  accepted: boolean;
  apply_at_bucket_ts: string;
  config_version: number;
  effective_knobs: KnobPatch;
}

/** One entry of `GET /api/optimizer/events`. */
export interface KnobEvent {
  id: number;
  created_at: string;
  apply_at_bucket_ts: string;
  station_key: string;
  knobs_requested: KnobPatch;
  knobs_effective: KnobPatch;
  source: string | null;
  reason: string | null;
  config_version: number;
  idempotency_key: string | null;
  /**
   * The id of the event that replaced this change before its bucket started (a later apply
   * for an earlier or the same bucket: the latest request wins), or null when it took effect.
   */
  superseded_by: number | null;
}
