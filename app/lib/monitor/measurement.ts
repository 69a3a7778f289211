/**
 * Parsing at the edge (seed 003): `GET /measurements` bodies and `/ws/telemetry` messages
 * become typed `Measurement`s here, or null when they are not; nothing untyped travels
 * further into the monitor. The shapes are protocol/telemetry.ts's.
 */
import type { Measurement, StationMeters, TapMeters } from '$protocol/telemetry';

const TAP_NUMBERS = ['rms_dbfs', 'peak_dbfs', 'clipping_ratio', 'momentary_lufs', 'short_term_lufs', 'true_peak_dbtp'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTap(v: unknown): v is TapMeters {
  if (!isObject(v)) return false;
  for (const k of TAP_NUMBERS) if (typeof v[k] !== 'number') return false;
  return true;
}

function isStation(v: unknown): v is StationMeters {
  return (
    isObject(v) &&
    typeof v.trace_id === 'string' &&
    typeof v.station_key === 'string' &&
    (v.label === null || typeof v.label === 'string') &&
    typeof v.config_version === 'number' &&
    isTap(v.PRE) &&
    isTap(v.POST)
  );
}

/** A `Measurement` (the body of `GET /measurements`), or null when `v` is not one. */
export function parseMeasurement(v: unknown): Measurement | null {
  if (!isObject(v) || typeof v.seq !== 'number' || typeof v.ts !== 'string' || !isObject(v.stations)) return null;
  for (const s of Object.values(v.stations)) if (!isStation(s)) return null;
  return v as Measurement;
}

/**
 * The measurement a `/ws/telemetry` text frame carries, or null for anything else (a
 * `spectrum` message, which this page does not ask for, or a malformed frame).
 */
export function parseTelemetryFrame(text: string): Measurement | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(msg) || msg.type !== 'measurement') return null;
  return parseMeasurement(msg.data);
}
