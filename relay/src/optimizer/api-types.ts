/**
 * The checks that turn an untyped response body into the optimizer contract's types
 * (protocol/optimizer-api.ts) at the edge. Only the fields the
 * optimizer relies on are checked; extra fields are allowed, as the contract allows them.
 */
import type { ActiveTrace, ApplyResponse, KnobEvent, SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import { OptimizerError } from './errors.ts';

export type { ActiveTrace, ApplyRequest, ApplyResponse, KnobEvent, SnapshotEntry } from '../../../protocol/optimizer-api.ts';

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
