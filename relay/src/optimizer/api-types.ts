/**
 * The optimizer contract's answers, parsed at the edge: each body is checked against its
 * schema in protocol/optimizer-api.ts (the one the relay serializes it with), and only then
 * travels inward, typed. Fields the client does not know are allowed, as the contract allows
 * them; a missing or mistyped field is a `bad_response` naming it.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import {
  ActiveTracesResponse,
  ApplyResponse,
  EventsResponse,
  SnapshotResponse,
  type ActiveTrace,
  type KnobEvent,
  type SnapshotEntry,
} from '../../../protocol/optimizer-api.ts';
import type { Static, TSchema } from '../../../protocol/schema.ts';
import { OptimizerError } from './errors.ts';

export type { ActiveTrace, ApplyRequest, ApplyResponse, KnobEvent, SnapshotEntry } from '../../../protocol/optimizer-api.ts';

// As the relay validates: nothing coerced or removed; `type: [...]` unions allowed.
const ajv = new Ajv({ allowUnionTypes: true, coerceTypes: false, removeAdditional: false, allErrors: false });

/** A checker of answers of one shape; compiled on first use. */
function answer<S extends TSchema>(schema: S, what: string): (body: unknown) => Static<S> {
  let validate: ValidateFunction | null = null;
  return (body) => {
    validate ??= ajv.compile(schema);
    if (!validate(body)) {
      throw new OptimizerError('bad_response', `the relay's answer is not what seed 000 §5 describes: ${ajv.errorsText(validate.errors, { dataVar: what })}`);
    }
    return body as Static<S>;
  };
}

const activeTraces = answer(ActiveTracesResponse, 'active traces');
const snapshot = answer(SnapshotResponse, 'snapshot');
const apply = answer(ApplyResponse, 'apply');
const events = answer(EventsResponse, 'events');

export function parseActiveTraces(body: unknown): ActiveTrace[] {
  return activeTraces(body).active;
}

export function parseSnapshot(body: unknown): SnapshotEntry[] {
  return snapshot(body).buckets;
}

export function parseApplyResponse(body: unknown): ApplyResponse {
  const o = apply(body);
  if (!o.accepted) throw new OptimizerError('bad_response', 'the relay answered 200 to an apply without accepting it');
  return o;
}

export function parseEvents(body: unknown): KnobEvent[] {
  return events(body).events;
}
