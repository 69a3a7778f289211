/**
 * Live meters (seed 003): one measurement, two deliveries. `GET /measurements` answers a
 * Measurement; `/ws/telemetry` pushes the same measurement wrapped in a `measurement`
 * message (the same JSON for the same `seq`), and `spectrum` messages to the clients that
 * ask for a station's spectrum. Messages are a tagged union on `type`.
 *
 * The relay builds these messages by string concatenation (it sends 20 a second to every
 * client); its contract test checks what it actually sends against these schemas.
 */
import { Tap } from './metrics.ts';
import * as T from './schema.ts';

/**
 * One tap's meters over the last publication interval. A station is mono and metered as one
 * channel (BS.1770-4, G = 1.0): a 1 kHz sine at -23 dBFS peak reads -26.0 LUFS.
 */
export const TapMeters = T.Object({
  rms_dbfs: T.Number({ description: 'RMS over the interval, dBFS (floor -120)' }),
  peak_dbfs: T.Number({ description: 'sample peak over the interval, dBFS (floor -120)' }),
  clipping_ratio: T.Number({ minimum: 0, maximum: 1, description: 'share of samples at full scale' }),
  momentary_lufs: T.Number({ description: 'the latest momentary loudness (ITU-R BS.1770-4, 400 ms), LUFS (floor -120)' }),
  short_term_lufs: T.Number({ description: 'the latest short-term loudness (EBU Tech 3341, 3 s), LUFS (floor -120)' }),
  integrated_lufs: T.Nullable(T.Number(), 'integrated loudness of the station since it started (BS.1770-4 gating), LUFS; null before a block passed the gates'),
  range_lu: T.Nullable(T.Number({ minimum: 0 }), 'loudness range of the station since it started (EBU Tech 3342), LU; null before a short-term value passed the gates'),
  true_peak_dbtp: T.Number({ description: 'the largest true peak over the interval (BS.1770-4 Annex 2), dBTP (floor -120); the previous interval\'s when this one had no audio' }),
});
export type TapMeters = T.Static<typeof TapMeters>;

/**
 * Call quality of a live station now (seed 004 §8.1): loss over the recent window, RFC 3550
 * interarrival jitter, the jitter buffer's delay, and the E-model's MOS and level of those
 * (protocol/qos.ts). Figures not known yet are null.
 */
export const QosMeters = T.Object({
  mos: T.Number({ minimum: 1, maximum: 4.5, description: 'E-model MOS (ITU-T G.107 simplified) of the delay and loss now' }),
  level: T.Enum(['GOOD', 'POOR', 'CRITICAL'], { description: 'seed 004 §8.1 level' }),
  loss_pct: T.Nullable(T.Number({ minimum: 0, maximum: 100 }), 'packets lost over the recent window, percent'),
  jitter_ms: T.Nullable(T.Number({ minimum: 0 }), 'interarrival jitter, ms'),
  jb_delay_ms: T.Nullable(T.Number(), 'the jitter buffer\'s delay now, ms'),
});
export type QosMeters = T.Static<typeof QosMeters>;

export const StationMeters = T.Object({
  trace_id: T.String(),
  station_key: T.String(),
  label: T.Nullable(T.String()),
  PRE: TapMeters,
  POST: TapMeters,
  queue_depth: T.Integer({ minimum: 0, description: 'packets waiting in the ingress queue' }),
  dropped_frames: T.Integer({ minimum: 0 }),
  decode_errors: T.Integer({ minimum: 0 }),
  config_version: T.Integer({ minimum: 0 }),
  // Absent from relays that predate it; null for a station without a jitter buffer.
  qos: T.Optional(T.Nullable(QosMeters)),
});
export type StationMeters = T.Static<typeof StationMeters>;

/** `GET /measurements`, and the `data` of a `measurement` message. */
export const Measurement = T.Object({
  ts: T.IsoTimestamp('when the relay built the measurement'),
  seq: T.Integer({ minimum: 0, description: 'increases by one per measurement' }),
  stations: T.Record(T.String(), StationMeters, {
    description: 'by station key; a key that another trace already uses is qualified as <trace_id>:<station_key>',
  }),
});
export type Measurement = T.Static<typeof Measurement>;

export const MeasurementsQuery = T.Object({
  trace_id: T.Optional(T.String({ description: 'only this trace\'s stations' })),
  token: T.Optional(T.String({ description: 'a token where a header cannot be set (beyond loopback)' })),
});
export type MeasurementsQuery = T.Static<typeof MeasurementsQuery>;

export const TelemetryQuery = T.Object({
  ...MeasurementsQuery.properties,
  spectrum: T.Optional(T.String({ description: 'a station key, or <trace_id>:<station_key> to name one trace\'s station: also send its PRE and POST spectra' })),
});
export type TelemetryQuery = T.Static<typeof TelemetryQuery>;

export const MeasurementMessage = T.Object({
  type: T.Literal('measurement'),
  ts: T.IsoTimestamp(),
  seq: T.Integer({ minimum: 0 }),
  data: Measurement,
});
export type MeasurementMessage = T.Static<typeof MeasurementMessage>;

/** Seed 003 WS-3: 1/6-octave bands from 20 Hz to Nyquist; a sine of amplitude A reads 20·log10 A in its band. */
export const SpectrumMessage = T.Object({
  type: T.Literal('spectrum'),
  ts: T.IsoTimestamp(),
  seq: T.Integer({ minimum: 1, description: 'increases by one per spectrum message' }),
  trace_id: T.String(),
  station_key: T.String(),
  tap: Tap,
  bands_hz: T.Array(T.Number({ exclusiveMinimum: 0 }), { description: 'band centres, Hz' }),
  db: T.Array(T.Number(), { description: 'level per band, dB (as many as bands_hz)' }),
});
export type SpectrumMessage = T.Static<typeof SpectrumMessage>;

/** Every message `/ws/telemetry` sends. */
export const TelemetryMessage = T.Union([MeasurementMessage, SpectrumMessage]);
export type TelemetryMessage = T.Static<typeof TelemetryMessage>;
