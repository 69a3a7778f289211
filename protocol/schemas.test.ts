/**
 * The wire contract's schemas as schemas: each compiles in Ajv's strict mode (what the relay
 * validates requests with), the types derived from them agree with the data they describe,
 * and seed 000's own examples fit the shapes it gives.
 */
import { Ajv, type AnySchema } from 'ajv';
import { describe, expect, it } from 'vitest';
import * as api from './api.ts';
import * as errors from './errors.ts';
import { defaultKnobs, KnobPatch, KnobValues, KNOBS } from './knobs.ts';
import * as metrics from './metrics.ts';
import * as optimizer from './optimizer-api.ts';
import * as telemetry from './telemetry.ts';
import * as twilio from './twilio.ts';
import * as upload from './upload.ts';

// As the relay's body validator: strict, nothing coerced or removed.
const ajv = new Ajv({ strict: true, allowUnionTypes: true, coerceTypes: false, removeAdditional: false });
const check = (schema: AnySchema, value: unknown): string | null => {
  const validate = ajv.compile(schema);
  return validate(value) ? null : ajv.errorsText(validate.errors);
};

/** Every schema a protocol module exports (objects with a JSON Schema `type`, `anyOf` or `enum`). */
function schemasOf(mod: Record<string, unknown>): [string, AnySchema][] {
  return Object.entries(mod).filter(
    (e): e is [string, AnySchema] => typeof e[1] === 'object' && e[1] !== null && !Array.isArray(e[1]) && ('type' in e[1] || 'anyOf' in e[1] || 'enum' in e[1]),
  );
}

describe('the schemas of protocol/', () => {
  const all = [api, errors, metrics, optimizer, telemetry, twilio, upload, { KnobValues, KnobPatch }].flatMap((m) => schemasOf(m as Record<string, unknown>));

  it('compile in Ajv strict mode', () => {
    expect(all.length).toBeGreaterThan(30);
    for (const [name, schema] of all) expect(() => ajv.compile(schema), name).not.toThrow();
  });

  it('are plain JSON: what JSON.stringify writes is the whole schema', () => {
    for (const [name, schema] of all) expect(JSON.parse(JSON.stringify(schema)), name).toEqual({ ...(schema as object) });
  });
});

describe('knobs', () => {
  it('KnobValues holds every knob with its type and range, and accepts the defaults', () => {
    expect(check(KnobValues, defaultKnobs())).toBeNull();
    for (const k of KNOBS) {
      const s = KnobValues.properties[k.name] as { type: string; minimum?: number; maximum?: number };
      expect(s.type, k.name).toBe(k.type);
      if (k.type === 'number') expect([s.minimum, s.maximum], k.name).toEqual([k.min, k.max]);
    }
    expect(KnobValues.required).toEqual(KNOBS.map((k) => k.name));
  });

  it('KnobPatch takes some knobs of the right type, unranged (clamping is the relay\'s), and leaves unknown names to the relay', () => {
    expect(check(KnobPatch, { 'pcm.input_gain_db': 99, 'limiter.enabled': true })).toBeNull();
    expect(check(KnobPatch, { 'eq.bass_db': 3 })).toBeNull();
    expect(check(KnobPatch, {})).not.toBeNull();
    expect(check(KnobPatch, { 'pcm.input_gain_db': true })).not.toBeNull();
    expect(check(KnobPatch, { 'compressor.enabled': 1 })).not.toBeNull();
    expect(check(KnobPatch, { 'pcm.input_gain_db': '6' })).not.toBeNull();
  });
});

describe('seed 000 §5, to the letter', () => {
  it('§5.1: the active traces example fits', () => {
    const example = {
      success: true,
      active: [
        {
          trace_id: 'trace_abc123',
          started_at: '2026-01-03T21:14:52.100Z',
          src_extension: '3333',
          dst_extension: '4444',
          call_id: 'optional',
          stations: ['St_3_3333', 'St_3_4444'],
        },
      ],
    };
    expect(check(optimizer.ActiveTracesResponse, example)).toBeNull();
  });

  it('§5.2: a snapshot entry has exactly the example\'s fields, and the query its parameters', () => {
    expect(Object.keys(optimizer.SnapshotEntry.properties).sort()).toEqual(
      ['bucket_ts', 'bucket_ms', 'station_key', 'knobs_snapshot', 'metrics', 'audio', 'config_version', 'last_knob_event_id'].sort(),
    );
    expect(Object.keys(optimizer.SnapshotEntry.properties.metrics.properties)).toEqual(['PRE', 'POST']);
    expect(Object.keys(optimizer.SnapshotEntry.properties.audio.properties)).toEqual(['PRE', 'POST']);
    expect(Object.keys(metrics.MetricAggregate.properties).sort()).toEqual(['avg', 'count', 'last', 'max', 'min']);
    expect(optimizer.SnapshotQuery.required).toEqual(['trace_id']);
    expect(check(optimizer.SnapshotQuery, { trace_id: 'trace_abc123', since_bucket_ts: '2026-01-03T21:15:00.000Z', limit: 1 })).toBeNull();
  });

  it('§5.3: the segment query takes the example\'s parameters, and `rate` only as 8000, 16000 or 48000', () => {
    const q = { trace_id: 'trace_abc123', station_key: 'St_3_3333', tap: 'PRE', bucket_ts: '2026-01-03T21:15:00.000Z' };
    expect(check(optimizer.SegmentQuery, q)).toBeNull();
    for (const rate of [8000, 16000, 48000]) expect(check(optimizer.SegmentQuery, { ...q, rate })).toBeNull();
    for (const rate of [44100, 0, 16000.5]) expect(check(optimizer.SegmentQuery, { ...q, rate })).not.toBeNull();
    expect(check(optimizer.SegmentQuery, { ...q, tap: 'MID' })).not.toBeNull();
  });

  it('§5.4: the apply request and response examples fit', () => {
    const request = {
      trace_id: 'trace_abc123',
      station_key: 'St_3_3333',
      apply_at_bucket_ts: '2026-01-03T21:15:10.000Z',
      idempotency_key: '2b9d3c6e-9b6e-4f9d-9a34-9a6cfe21c1aa',
      source: 'auto_optimizer',
      reason: 'reduce clipping while maintaining RMS target',
      knobs: { 'pcm.input_gain_db': -3, 'limiter.threshold_dbfs': -6 },
    };
    expect(check(optimizer.ApplyRequest, request)).toBeNull();
    const response = {
      success: true,
      accepted: true,
      apply_at_bucket_ts: '2026-01-03T21:15:10.000Z',
      config_version: 42,
      effective_knobs: { 'pcm.input_gain_db': -3, 'limiter.threshold_dbfs': -6 },
    };
    expect(check(optimizer.ApplyResponse, response)).toBeNull();
    for (const field of optimizer.ApplyRequest.required) {
      const { [field]: _gone, ...missing } = request as Record<string, unknown>;
      expect(check(optimizer.ApplyRequest, missing), field).not.toBeNull();
    }
    expect(check(optimizer.ApplyRequest, { ...request, extra: 1 })).not.toBeNull();
  });

  it('§7: an error is {success:false, error:{code, message}}', () => {
    expect(check(errors.ErrorBody, { success: false, error: { code: 'bucket_mismatch', message: 'late' } })).toBeNull();
    expect(check(errors.ErrorBody, { success: false, error: { code: 'made_up', message: 'x' } })).not.toBeNull();
  });
});

describe('telemetry messages', () => {
  it('are a union tagged by `type`', () => {
    const tap = { rms_dbfs: -21.49, peak_dbfs: -12.41, clipping_ratio: 0, momentary_lufs: -32.08, short_term_lufs: -31.7, integrated_lufs: -31.95, range_lu: 2.4, true_peak_dbtp: -12.3 };
    // A silent station: no loudness passed the gates yet.
    const silent = { ...tap, momentary_lufs: -120, short_term_lufs: -120, integrated_lufs: null, range_lu: null, true_peak_dbtp: -120 };
    const data = {
      ts: '2026-11-21T21:17:07.154Z',
      seq: 122,
      stations: {
        st_r4jhrhhx: { trace_id: 'trace_abc123', station_key: 'st_r4jhrhhx', label: 'sim-1', PRE: tap, POST: silent, queue_depth: 0, dropped_frames: 0, decode_errors: 0, config_version: 0 },
      },
    };
    const measurement = { type: 'measurement', ts: data.ts, seq: 122, data };
    const spectrum = { type: 'spectrum', ts: data.ts, seq: 7, trace_id: 'tr_2xk9', station_key: 'st_r4jhrhhx', tap: 'PRE', bands_hz: [20, 22.45], db: [-120, -98.5] };
    expect(check(telemetry.TelemetryMessage, measurement)).toBeNull();
    expect(check(telemetry.TelemetryMessage, spectrum)).toBeNull();
    expect(check(telemetry.MeasurementMessage, spectrum)).not.toBeNull();
    expect(check(telemetry.TelemetryMessage, { ...spectrum, type: 'gossip' })).not.toBeNull();
    const { true_peak_dbtp: _tp, ...withoutTruePeak } = tap;
    expect(check(telemetry.TapMeters, withoutTruePeak)).not.toBeNull();
    expect(check(telemetry.TapMeters, { ...tap, range_lu: -1 })).not.toBeNull();
  });
});

describe('bucket metrics', () => {
  const agg = { count: 250, min: -30, max: -10, avg: -20, last: -20 };
  const aggregates = Object.fromEntries(metrics.METRIC_NAMES.map((n) => [n, agg]));

  it('take the gated loudness entries beside the aggregates, null where nothing passed the gates', () => {
    const tap = { ...aggregates, 'loudness.integrated_lufs': { bucket: -23.1, station: -22.8, active_s: 3.4 }, 'loudness.range_lu': { station: 6.2 } };
    expect(check(metrics.BucketMetrics, { PRE: tap, POST: tap })).toBeNull();
    const silent = { ...aggregates, 'loudness.integrated_lufs': { bucket: null, station: null, active_s: 0 }, 'loudness.range_lu': { station: null } };
    expect(check(metrics.TapMetrics, silent)).toBeNull();
    expect(check(metrics.TapMetrics, { ...tap, 'loudness.integrated_lufs': { bucket: -23.1, station: -22.8 } })).not.toBeNull();
    expect(check(metrics.TapMetrics, { ...tap, 'loudness.integrated_lufs': { bucket: -23.1, station: -22.8, active_s: -1 } })).not.toBeNull();
    expect(check(metrics.TapMetrics, { ...tap, 'loudness.range_lu': { station: 'wide' } })).not.toBeNull();
  });

  it('accept a bucket stored before loudness and true peak were measured (five aggregates), and no fewer', () => {
    const old = Object.fromEntries(['pcm.rms_dbfs', 'pcm.peak_dbfs', 'pcm.clipping_ratio', 'pcm.dc_offset', 'loudness.momentary_lufs'].map((n) => [n, agg]));
    expect(check(metrics.TapMetrics, old)).toBeNull();
    const { 'pcm.rms_dbfs': _rms, ...fewer } = old;
    expect(check(metrics.TapMetrics, fewer)).not.toBeNull();
  });
});
