/**
 * Exports of a station's audio, or a whole trace's mixed down to one channel, over a time
 * range: one audio file of the range (WAV, or Opus in WebM or Ogg)
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
export const EXPORT_FORMATS = ['wav', 'webm', 'ogg'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** The formats that carry Opus (and take a bitrate). */
export const EXPORT_OPUS_FORMATS: readonly ExportFormat[] = ['webm', 'ogg'];

/** Rate of a whole trace's export (its stations mixed down), Hz, in every format. */
export const EXPORT_MIX_SAMPLE_RATE = 48000;
/** Most stations a whole trace's export mixes (each is read and resampled while it streams). */
export const EXPORT_MIX_MAX_STATIONS = 8;
/** Most station audio a whole trace's export reads, ms: stations × range (2 h: 2 stations for 1 h, 8 for 15 min). */
export const EXPORT_MIX_MAX_STATION_MS = 2 * 3600_000;

/** Opus bitrate of a `webm` or `ogg` export, bit/s: the default and the range a request may ask for. */
export const EXPORT_OPUS_BITRATE_DEFAULT = 64_000;
export const EXPORT_OPUS_BITRATE_MIN = 16_000;
export const EXPORT_OPUS_BITRATE_MAX = 256_000;

/** A file name part safe in a quoted header value and on any file system. */
const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '-');

/**
 * The name an export is saved under: `<trace>_<station, or mix>_<tap>_<from>.<format>`, the
 * relay's Content-Disposition and the app's suggestion when it asks where to save before
 * the answer comes. `stationKey` null: a whole trace.
 */
export function exportFileName(traceId: string, stationKey: string | null, tap: string, fromMs: number, format: ExportFormat = 'wav'): string {
  return `${safeName(traceId)}_${stationKey === null ? 'mix' : safeName(stationKey)}_${safeName(tap)}_${safeName(new Date(fromMs).toISOString())}.${format}`;
}

const TraceId = T.String({ minLength: 1, description: 'e.g. trace_abc123' });
const StationKey = T.String({
  minLength: 1,
  description: `e.g. St_3_3333; leave it out for the whole trace: its stations with audio in the range, each at unity gain, summed into one channel at ${EXPORT_MIX_SAMPLE_RATE} Hz with a -1 dBFS peak limiter (the listen mix's rule); at most ${EXPORT_MIX_MAX_STATIONS} stations and ${EXPORT_MIX_MAX_STATION_MS / 60_000} min of station audio (stations × range)`,
});
/** Parsed by the relay, so that its message says what is wrong with the value. */
const RangeEdge = (description: string) => T.String({ description: `${description}: UTC ISO-8601, e.g. 2026-01-03T21:15:00.000Z` });

const RangeQuery = {
  trace_id: TraceId,
  station_key: T.Optional(StationKey),
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
        description:
          "wav: 16-bit PCM mono at the station's rate (a whole trace: 48 kHz); webm: Opus in WebM (CodecDelay and DiscardPadding), ogg: Opus in Ogg (RFC 7845), both mono, decoded at 48 kHz to exactly (to - from) × 48000 samples",
      }),
    ),
    bitrate: T.Optional(
      T.Integer({
        minimum: EXPORT_OPUS_BITRATE_MIN,
        maximum: EXPORT_OPUS_BITRATE_MAX,
        description: `bit/s, webm and ogg only: the Opus target bitrate (VBR around it); default ${EXPORT_OPUS_BITRATE_DEFAULT}`,
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
  station_key: T.String({ description: 'the station the bucket is of' }),
  bucket_ts: SnapshotEntry.properties.bucket_ts,
  metrics: BucketMetrics,
  knobs_snapshot: SnapshotEntry.properties.knobs_snapshot,
  config_version: SnapshotEntry.properties.config_version,
});
export type SidecarBucket = T.Static<typeof SidecarBucket>;

export const SidecarResponse = T.Object({
  success: T.SuccessTrue,
  trace_id: T.String(),
  station_key: T.Nullable(T.String(), 'the station, or null for a whole trace'),
  from: T.IsoTimestamp('start of the range (inclusive)'),
  to: T.IsoTimestamp('end of the range (exclusive)'),
  sample_rate: T.Integer({ minimum: 1, description: `Hz: the export WAV's rate: the station's, or ${EXPORT_MIX_SAMPLE_RATE} for a whole trace` }),
  buckets: T.Array(SidecarBucket, { description: 'stored buckets overlapping [from, to) of the station (or of every station of the trace), oldest first, then by station' }),
  knob_events: T.Array(KnobEvent, { description: 'knob changes that took effect in [from, to) (apply_at_bucket_ts in it, not superseded), oldest first' }),
});
export type SidecarResponse = T.Static<typeof SidecarResponse>;
