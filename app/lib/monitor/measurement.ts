/**
 * Parsing at the edge (seed 003): `GET /measurements` bodies and `/ws/telemetry` messages
 * become typed `Measurement`s here, or null when they are not; nothing untyped travels
 * further into the monitor. The shapes are protocol/telemetry.ts's.
 */
import type { Measurement, SpectrumMessage, StationMeters, TapMeters } from '$protocol/telemetry';

/** More bands than a 1/6-octave spectrum from 20 Hz up to 96 kHz's Nyquist has (74) is not one. */
const MAX_SPECTRUM_BANDS = 256;

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

/** A `spectrum` message (seed 003 WS-3), or null when `v` is not one: as many levels as bands, bands rising. */
export function parseSpectrum(v: unknown): SpectrumMessage | null {
  if (!isObject(v) || v.type !== 'spectrum' || typeof v.ts !== 'string' || typeof v.seq !== 'number' || typeof v.trace_id !== 'string' || typeof v.station_key !== 'string') return null;
  if (v.tap !== 'PRE' && v.tap !== 'POST') return null;
  const { bands_hz: bands, db } = v;
  if (!Array.isArray(bands) || !Array.isArray(db) || bands.length !== db.length || bands.length === 0 || bands.length > MAX_SPECTRUM_BANDS) return null;
  let last = 0;
  for (let i = 0; i < bands.length; i++) {
    const hz: unknown = bands[i];
    const level: unknown = db[i];
    if (typeof hz !== 'number' || !(hz > last) || typeof level !== 'number' || !Number.isFinite(level)) return null;
    last = hz;
  }
  return v as SpectrumMessage;
}

/** What a `/ws/telemetry` text frame carries, typed. */
export type TelemetryFrame = { type: 'measurement'; measurement: Measurement } | { type: 'spectrum'; spectrum: SpectrumMessage };

/** The message a `/ws/telemetry` text frame carries, or null for a malformed or unknown one. */
export function parseTelemetryFrame(text: string): TelemetryFrame | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(msg)) return null;
  if (msg.type === 'measurement') {
    const measurement = parseMeasurement(msg.data);
    return measurement === null ? null : { type: 'measurement', measurement };
  }
  if (msg.type === 'spectrum') {
    const spectrum = parseSpectrum(msg);
    return spectrum === null ? null : { type: 'spectrum', spectrum };
  }
  return null;
}
