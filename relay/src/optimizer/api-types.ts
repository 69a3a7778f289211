/**
 * The optimizer contract's JSON as the client sees it (seed 000 §5), and the checks that
 * turn an untyped response body into these types at the edge. Only the fields the
 * optimizer relies on are checked; extra fields are allowed, as the contract allows them.
 */
import type { KnobPatch, KnobValues } from '../../../protocol/knobs.ts';
import type { MetricAggregate, Tap } from '../../../protocol/metrics.ts';
import { OptimizerError } from './errors.ts';

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
  source: string;
  reason: string;
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
}

type Json = Record<string, unknown>;

function bad(what: string): never {
  throw new OptimizerError('bad_response', `the relay's answer is not what seed 000 §5 describes: ${what}`);
}

function object(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Json;
}

function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) bad(`${what} must be an array`);
  return v;
}

function str(o: Json, key: string, what: string): string {
  if (typeof o[key] !== 'string') bad(`${what}.${key} must be a string`);
  return o[key] as string;
}

function int(o: Json, key: string, what: string): number {
  if (!Number.isInteger(o[key])) bad(`${what}.${key} must be an integer`);
  return o[key] as number;
}

function successBody(body: unknown, what: string): Json {
  const o = object(body, what);
  if (o.success !== true) bad(`${what}.success must be true`);
  return o;
}

export function parseActiveTraces(body: unknown): ActiveTrace[] {
  const o = successBody(body, 'active traces');
  return array(o.active, 'active').map((raw, i) => {
    const t = object(raw, `active[${i}]`);
    str(t, 'trace_id', `active[${i}]`);
    const stations = array(t.stations, `active[${i}].stations`);
    if (!stations.every((s) => typeof s === 'string')) bad(`active[${i}].stations must hold station keys`);
    return t as unknown as ActiveTrace;
  });
}

export function parseSnapshot(body: unknown): SnapshotEntry[] {
  const o = successBody(body, 'snapshot');
  return array(o.buckets, 'buckets').map((raw, i) => {
    const what = `buckets[${i}]`;
    const b = object(raw, what);
    str(b, 'bucket_ts', what);
    str(b, 'station_key', what);
    int(b, 'bucket_ms', what);
    int(b, 'config_version', what);
    object(b.knobs_snapshot, `${what}.knobs_snapshot`);
    const metrics = object(b.metrics, `${what}.metrics`);
    const audio = object(b.audio, `${what}.audio`);
    for (const tap of ['PRE', 'POST']) {
      object(metrics[tap], `${what}.metrics.${tap}`);
      str(object(audio[tap], `${what}.audio.${tap}`), 'endpoint', `${what}.audio.${tap}`);
    }
    if (b.last_knob_event_id !== null && !Number.isInteger(b.last_knob_event_id)) bad(`${what}.last_knob_event_id must be an integer or null`);
    return b as unknown as SnapshotEntry;
  });
}

export function parseApplyResponse(body: unknown): ApplyResponse {
  const o = successBody(body, 'apply');
  if (o.accepted !== true) bad('apply.accepted must be true');
  str(o, 'apply_at_bucket_ts', 'apply');
  int(o, 'config_version', 'apply');
  object(o.effective_knobs, 'apply.effective_knobs');
  return o as unknown as ApplyResponse;
}

export function parseEvents(body: unknown): KnobEvent[] {
  const o = successBody(body, 'events');
  return array(o.events, 'events').map((raw, i) => {
    const e = object(raw, `events[${i}]`);
    int(e, 'id', `events[${i}]`);
    int(e, 'config_version', `events[${i}]`);
    str(e, 'station_key', `events[${i}]`);
    return e as unknown as KnobEvent;
  });
}
