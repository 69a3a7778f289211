/**
 * The schema vocabulary of the wire contract: TypeBox's builders (each shape is declared once
 * as a JSON Schema, its TypeScript type derived with `Static<>`), and the few pieces every
 * shape shares.
 *
 * Named re-exports rather than TypeBox's `Type` namespace, so that the PWA's bundle takes
 * only the builders it uses (about 8 KB instead of 77 KB minified).
 */
import { Literal, Null, Optional, String, Union, type TLiteral, type TNull, type TSchema, type TString, type TUnion } from 'typebox';

export {
  Array,
  Boolean,
  Enum,
  Integer,
  Literal,
  Null,
  Number,
  Object,
  Optional,
  Record,
  String,
  Union,
  Unknown,
  Unsafe,
  type Static,
  type TArray,
  type TBoolean,
  type TInteger,
  type TNumber,
  type TObject,
  type TSchema,
  type TString,
} from 'typebox';

/** The timestamps the relay writes: UTC ISO-8601 with milliseconds (ARCHITECTURE.md, "Time"). */
export const ISO_MS_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$';

/**
 * A timestamp in a response: always `2026-01-03T21:15:00.000Z`. Timestamps in requests are
 * plain strings in the schema: the relay parses them itself, so that its message says what
 * was wrong with the value.
 */
export function IsoTimestamp(description = 'UTC ISO-8601 with milliseconds, e.g. 2026-01-03T21:15:00.000Z'): TString {
  return String({ pattern: ISO_MS_PATTERN, description });
}

/** `T` or `null` (JSON Schema 2020-12, as OpenAPI 3.1 writes it). */
export function Nullable<T extends TSchema>(schema: T, description?: string): TUnion<[T, TNull]> {
  return Union([schema, Null()], description === undefined ? {} : { description });
}

/** `success: true`, the first field of every successful REST answer (seed 000 §5). */
export const SuccessTrue: TLiteral<true> = Literal(true);

/** The same properties, each optional. */
export function optionalProperties<P extends Record<string, TSchema>>(properties: P): { [K in keyof P]: ReturnType<typeof Optional<P[K]>> } {
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, Optional(v)])) as { [K in keyof P]: ReturnType<typeof Optional<P[K]>> };
}

declare const jsonOf: unique symbol;

/**
 * The JSON text of a `T`: a string that says what it encodes, for messages built as text
 * (by concatenation, for speed) rather than serialized from an object at each send.
 */
export type JsonText<T> = string & { readonly [jsonOf]: T };
