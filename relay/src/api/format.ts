/** Store rows to the JSON shapes of seed 000 §5. */
import { segmentEndpoint, type KnobEvent, type SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import { isoOf } from '../time/bucket-clock.ts';
import type { BucketRow, KnobEventRow } from '../store/store.ts';

export function snapshotEntry(b: BucketRow): SnapshotEntry {
  return {
    bucket_ts: isoOf(b.bucket_ts),
    bucket_ms: b.bucket_ms,
    station_key: b.station_key,
    knobs_snapshot: b.knobs,
    metrics: b.metrics,
    audio: {
      PRE: { endpoint: segmentEndpoint(b.trace_id, b.station_key, 'PRE', b.bucket_ts) },
      POST: { endpoint: segmentEndpoint(b.trace_id, b.station_key, 'POST', b.bucket_ts) },
    },
    config_version: b.config_version,
    last_knob_event_id: b.last_knob_event_id,
  };
}

export function knobEvent(e: KnobEventRow): KnobEvent {
  return {
    id: e.id,
    created_at: isoOf(e.created_at),
    apply_at_bucket_ts: isoOf(e.apply_at_bucket_ts),
    station_key: e.station_key,
    knobs_requested: e.knobs_requested,
    knobs_effective: e.knobs_effective,
    source: e.source,
    reason: e.reason,
    config_version: e.config_version,
    idempotency_key: e.idempotency_key,
    superseded_by: e.superseded_by ?? null,
  };
}
