/**
 * Identifiers. Distinct types keep a trace id from being passed where a station key is
 * expected. `StreamId` is a capability (seed 002 §14): 128 random bits, URL-safe.
 */
import { randomBytes } from 'node:crypto';

export type TraceId = string & { readonly __brand: 'TraceId' };
export type StationKey = string & { readonly __brand: 'StationKey' };
export type StreamId = string & { readonly __brand: 'StreamId' };

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function shortId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % ALPHABET.length];
  return out;
}

export function newTraceId(): TraceId {
  return `trace_${shortId(12)}` as TraceId;
}

export function newStationKey(): StationKey {
  return `st_${shortId(8)}` as StationKey;
}

export function newStreamId(): StreamId {
  return randomBytes(16).toString('base64url') as StreamId;
}
