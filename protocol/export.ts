/**
 * Exports of a station's audio over a time range: one audio file of the range (WAV, or Opus
 * in Ogg)
 * (`GET /api/audio/export`) and its JSON sidecar of bucket metrics, knobs and knob events
 * (`GET /api/audio/export/sidecar`). Declared once here; the relay validates requests and
 * writes its OpenAPI document from these shapes.
 */
import { BucketMetrics, Tap } from './metrics.ts';
import { KnobEvent, SnapshotEntry } from './optimizer-api.ts';
import * as T from './schema.ts';

/** Longest range one export covers, ms (2 h: 691 MB of WAV at 48 kHz). */
export const EXPORT_MAX_RANGE_MS = 2 * 3600_000;

/** Formats an export can be written in. */
export const EXPORT_FORMATS = ['wav', 'ogg'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Opus bitrate of an `ogg` export, bit/s: the default and the range a request may ask for. */
export const EXPORT_OPUS_BITRATE_DEFAULT = 64_000;
export const EXPORT_OPUS_BITRATE_MIN = 16_000;
export const EXPORT_OPUS_BITRATE_MAX = 256_000;

const TraceId = T.String({ minLength: 1, description: 'e.g. trace_abc123' });
const StationKey = T.String({ minLength: 1, description: 'e.g. St_3_3333' });
/** Parsed by the relay, so that its message says what is wrong with the value. */
const RangeEdge = (description: string) => T.String({ description: `${description}: UTC ISO-8601, e.g. 2026-01-03T21:15:00.000Z` });

const RangeQuery = {
  trace_id: TraceId,
  station_key: StationKey,
  from: RangeEdge('start of the range (inclusive)'),
  to: RangeEdge(`end of the range (exclusive); later than from, at most ${EXPORT_MAX_RANGE_MS / 60_000} min after it`),
};

export const ExportQuery = T.Object(
  {
    ...RangeQuery,
    tap: Tap,
    format: T.Optional(
      T.Enum([...EXPORT_FORMATS], {
        default: 'wav',
        description: "wav: 16-bit PCM mono at the station's rate; ogg: Opus in Ogg (RFC 7845), mono, decoded at 48 kHz to exactly (to - from) × 48000 samples",
      }),
    ),
    bitrate: T.Optional(
      T.Integer({
        minimum: EXPORT_OPUS_BITRATE_MIN,
        maximum: EXPORT_OPUS_BITRATE_MAX,
        description: `bit/s, ogg only: the Opus target bitrate (VBR around it); default ${EXPORT_OPUS_BITRATE_DEFAULT}`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ExportQuery = T.Static<typeof ExportQuery>;

export const SidecarQuery = T.Object(RangeQuery, { additionalProperties: false });
export type SidecarQuery = T.Static<typeof SidecarQuery>;

/** One bucket overlapping the range: the snapshot entry's fields of the same names. */
export const SidecarBucket = T.Object({
  bucket_ts: SnapshotEntry.properties.bucket_ts,
  metrics: BucketMetrics,
  knobs_snapshot: SnapshotEntry.properties.knobs_snapshot,
  config_version: SnapshotEntry.properties.config_version,
});
export type SidecarBucket = T.Static<typeof SidecarBucket>;

export const SidecarResponse = T.Object({
  success: T.SuccessTrue,
  trace_id: T.String(),
  station_key: T.String(),
  from: T.IsoTimestamp('start of the range (inclusive)'),
  to: T.IsoTimestamp('end of the range (exclusive)'),
  sample_rate: T.Integer({ minimum: 1, description: 'Hz: the station\'s rate, the export WAV\'s rate' }),
  buckets: T.Array(SidecarBucket, { description: 'stored buckets overlapping [from, to), oldest first' }),
  knob_events: T.Array(KnobEvent, { description: 'knob changes that took effect in [from, to) (apply_at_bucket_ts in it, not superseded), oldest first' }),
});
export type SidecarResponse = T.Static<typeof SidecarResponse>;
