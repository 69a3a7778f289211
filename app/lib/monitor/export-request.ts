/**
 * What the monitor's export panel asks the relay for (protocol/export.ts): the query of
 * `GET /api/audio/export` and its sidecar, the file's name, a quick range, and the size to
 * expect. Pure functions over the panel's choices, so they are tested without a browser.
 */
import {
  EXPORT_MAX_RANGE_MS,
  EXPORT_MIX_SAMPLE_RATE,
  EXPORT_OPUS_BITRATE_MAX,
  EXPORT_OPUS_BITRATE_MIN,
  EXPORT_OPUS_FORMATS,
  exportFileName,
  type ExportFormat,
} from '../../../protocol/export.ts';
import { BUCKET_MS } from '../../../protocol/metrics.ts';

export interface ExportChoice {
  traceId: string;
  /** null: the whole trace, its stations mixed down. */
  stationKey: string | null;
  tap: 'PRE' | 'POST';
  format: ExportFormat;
  /** bit/s, for the Opus formats. */
  bitrate: number;
  fromMs: number;
  toMs: number;
}

/** Why a choice cannot be asked for, or null when it can. */
export function choiceProblem(c: ExportChoice): string | null {
  if (!Number.isFinite(c.fromMs) || !Number.isFinite(c.toMs)) return 'choose a start and an end';
  if (c.fromMs >= c.toMs) return 'the start must be before the end';
  if (c.toMs - c.fromMs > EXPORT_MAX_RANGE_MS) return `an export covers at most ${EXPORT_MAX_RANGE_MS / 60_000} min: choose a shorter range`;
  const opus = EXPORT_OPUS_FORMATS.includes(c.format);
  if (opus && !(Number.isInteger(c.bitrate) && c.bitrate >= EXPORT_OPUS_BITRATE_MIN && c.bitrate <= EXPORT_OPUS_BITRATE_MAX)) {
    return `the bitrate must be from ${EXPORT_OPUS_BITRATE_MIN / 1000} to ${EXPORT_OPUS_BITRATE_MAX / 1000} kbit/s`;
  }
  return null;
}

/** The range part of both queries (no station_key for a whole trace). */
function rangeParams(c: ExportChoice): URLSearchParams {
  const q = new URLSearchParams({ trace_id: c.traceId });
  if (c.stationKey !== null) q.set('station_key', c.stationKey);
  q.set('from', new Date(c.fromMs).toISOString());
  q.set('to', new Date(c.toMs).toISOString());
  return q;
}

/** `GET /api/audio/export?...` for the choice (a path: the token goes in a header, never here). */
export function exportPath(c: ExportChoice): string {
  const q = rangeParams(c);
  q.set('tap', c.tap);
  q.set('format', c.format);
  if (EXPORT_OPUS_FORMATS.includes(c.format)) q.set('bitrate', String(c.bitrate));
  return `/api/audio/export?${q.toString()}`;
}

/** `GET /api/audio/export/sidecar?...`: the buckets and knob events of the same range. */
export function sidecarPath(c: ExportChoice): string {
  return `/api/audio/export/sidecar?${rangeParams(c).toString()}`;
}

/** The audio file's name (the relay's), and its sidecar's. */
export function fileNames(c: ExportChoice): { audio: string; sidecar: string } {
  const audio = exportFileName(c.traceId, c.stationKey, c.tap, c.fromMs, c.format);
  return { audio, sidecar: audio.replace(/\.[a-z0-9]+$/, '.json') };
}

/**
 * Bytes to expect: exact for WAV (44-byte header, 16-bit mono at the station's rate, or
 * 48 kHz for a whole trace), about bitrate × length for Opus (VBR; the containers add about
 * 1 % at 64 kbit/s).
 */
export function expectedBytes(c: ExportChoice, stationRateHz: number | null): { bytes: number; exact: boolean } {
  const s = Math.max(0, c.toMs - c.fromMs) / 1000;
  if (c.format === 'wav') {
    const rate = c.stationKey === null || stationRateHz === null ? EXPORT_MIX_SAMPLE_RATE : stationRateHz;
    return { bytes: 44 + 2 * Math.round(s * rate), exact: true };
  }
  return { bytes: Math.round((c.bitrate / 8) * s * 1.01), exact: false };
}

/** "1.2 MB" and the like (decimal units, as download managers show). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** The trace's stored range: its first bucket's start to its last bucket's end (null before any bucket). */
export function traceRange(firstBucketTs: string | null, lastBucketTs: string | null): { fromMs: number; toMs: number } | null {
  if (firstBucketTs === null || lastBucketTs === null) return null;
  return { fromMs: Date.parse(firstBucketTs), toMs: Date.parse(lastBucketTs) + BUCKET_MS };
}

/** The last `lengthMs` of a range (all of it when shorter), within the longest export. */
export function lastOf(range: { fromMs: number; toMs: number }, lengthMs: number): { fromMs: number; toMs: number } {
  const length = Math.min(lengthMs, EXPORT_MAX_RANGE_MS, range.toMs - range.fromMs);
  return { fromMs: range.toMs - length, toMs: range.toMs };
}

/** The value of an `<input type="datetime-local" step="1">` for an instant, in local time. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The instant of a datetime-local value (local time), or NaN. */
export function fromLocalInput(value: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value) ? new Date(value).getTime() : NaN;
}

/**
 * What to tell the operator about a refusal: 401/403 name the scope the token lacks, other
 * answers carry the relay's own message (its error envelope).
 */
export function refusalMessage(status: number, body: unknown, scope: 'read:audio' | 'read:snapshots'): string {
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  if (status === 403) return `this token lacks ${scope}: ask for a token with that scope`;
  if (status === 401) return 'the relay did not accept this token: sign in again with the relay\'s link';
  return typeof message === 'string' ? `${status}: ${message}` : `the relay answered ${status}`;
}
