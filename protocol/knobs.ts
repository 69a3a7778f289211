/**
 * The knob registry: every knob of the per-station DSP chain, as data, in one place.
 *
 * The relay validates and clamps against it, serves it at `GET /api/optimizer/knobs`,
 * and the chain reads its defaults from it. Values outside a range are clamped
 * (seed 000 §5.4: "updates are clamped & validated server-side"); unknown names are rejected.
 */
import * as T from './schema.ts';

export const KNOB_NAMES = [
  'pcm.input_gain_db',
  'hpf.enabled',
  'hpf.cutoff_hz',
  'gate.enabled',
  'gate.threshold_dbfs',
  'compressor.enabled',
  'compressor.threshold_dbfs',
  'compressor.ratio',
  'compressor.attack_ms',
  'compressor.release_ms',
  'compressor.makeup_db',
  'limiter.enabled',
  'limiter.threshold_dbfs',
] as const;

export type KnobName = (typeof KNOB_NAMES)[number];

export const KNOB_TYPES = ['number', 'boolean'] as const;
export type KnobType = (typeof KNOB_TYPES)[number];

/** One entry of the registry (`GET /api/optimizer/knobs`). */
export const KnobSpec = T.Object({
  name: T.Enum([...KNOB_NAMES]),
  type: T.Enum([...KNOB_TYPES]),
  unit: T.Nullable(T.String(), "'dB', 'dBFS', 'Hz', 'ms' or 'ratio' for a numeric knob; null for a boolean"),
  min: T.Nullable(T.Number(), 'lowest value of a numeric knob (lower ones are clamped); null for a boolean'),
  max: T.Nullable(T.Number(), 'highest value of a numeric knob (higher ones are clamped); null for a boolean'),
  default: T.Union([T.Number(), T.Boolean()]),
  description: T.String(),
});
export type KnobSpec = Readonly<T.Static<typeof KnobSpec>>;

function num(name: KnobName, unit: string, min: number, max: number, def: number, description: string): KnobSpec {
  return { name, type: 'number', unit, min, max, default: def, description };
}
function bool(name: KnobName, def: boolean, description: string): KnobSpec {
  return { name, type: 'boolean', unit: null, min: null, max: null, default: def, description };
}

export const KNOBS: readonly KnobSpec[] = [
  num('pcm.input_gain_db', 'dB', -40, 40, 0, 'Gain applied before every other stage.'),
  bool('hpf.enabled', false, 'High-pass filter on or off.'),
  num('hpf.cutoff_hz', 'Hz', 20, 400, 80, 'High-pass cutoff (2nd-order Butterworth, 12 dB/octave).'),
  bool('gate.enabled', false, 'Noise gate on or off.'),
  num('gate.threshold_dbfs', 'dBFS', -90, -20, -60, 'Gate opens above this level.'),
  bool('compressor.enabled', false, 'Compressor on or off.'),
  num('compressor.threshold_dbfs', 'dBFS', -60, 0, -24, 'Compression starts above this level.'),
  num('compressor.ratio', 'ratio', 1, 20, 4, 'Input dB over threshold per output dB over threshold.'),
  num('compressor.attack_ms', 'ms', 0.1, 200, 10, 'Time constant of gain reduction.'),
  num('compressor.release_ms', 'ms', 5, 2000, 200, 'Time constant of gain recovery.'),
  num('compressor.makeup_db', 'dB', 0, 24, 0, 'Gain after compression.'),
  bool('limiter.enabled', false, 'Peak limiter on or off.'),
  num('limiter.threshold_dbfs', 'dBFS', -24, 0, -1, 'Output peaks never exceed this level.'),
];

const BY_NAME: ReadonlyMap<string, KnobSpec> = new Map(KNOBS.map((k) => [k.name, k]));

export function knobSpec(name: string): KnobSpec | undefined {
  return BY_NAME.get(name);
}

/** A knob's value schema: `*.enabled` knobs are booleans, the others numbers (knobs.test.ts checks KNOBS agrees). */
type KnobValueSchema<K extends KnobName> = K extends `${string}.enabled` ? T.TBoolean : T.TNumber;

function knobValueSchema(k: KnobSpec, withRange: boolean): T.TBoolean | T.TNumber {
  if (k.type === 'boolean') return T.Boolean({ description: k.description });
  const range = withRange ? { minimum: k.min as number, maximum: k.max as number } : {};
  return T.Number({ ...range, description: `${k.description} (${k.unit})` });
}

/** Every knob with its value: a bucket's `knobs_snapshot` (seed 000 §5.2). Values lie in their ranges. */
export const KnobValues = T.Object(
  Object.fromEntries(KNOBS.map((k) => [k.name, knobValueSchema(k, true)])) as { [K in KnobName]: KnobValueSchema<K> },
  { description: 'every knob in force during the bucket' },
);
export type KnobValues = T.Static<typeof KnobValues>;

/**
 * Some knobs: what an apply requests (seed 000 §5.4) and what it will set (`effective_knobs`).
 * A requested value outside its range is clamped, not refused, so the request schema has no
 * range; a name outside the registry passes the schema and is refused by the relay as
 * `unknown_knob`, with a message naming it.
 */
export const KnobPatch = T.Object(
  Object.fromEntries(KNOBS.map((k) => [k.name, T.Optional(knobValueSchema(k, false))])) as { [K in KnobName]: ReturnType<typeof T.Optional<KnobValueSchema<K>>> },
  { minProperties: 1, additionalProperties: T.Union([T.Number(), T.Boolean()]), description: 'knob name -> value; GET /api/optimizer/knobs lists the knobs' },
);
export type KnobPatch = T.Static<typeof KnobPatch>;

export function defaultKnobs(): KnobValues {
  const out: Record<string, number | boolean> = {};
  for (const k of KNOBS) out[k.name] = k.default;
  return out as KnobValues;
}

export type KnobValidation =
  | { ok: true; knobs: KnobPatch; clamped: KnobName[] }
  | { ok: false; field: string; message: string };

/**
 * Validates a requested patch: unknown names and wrong types are errors; numbers outside
 * a knob's range are clamped to it (and reported in `clamped`).
 */
export function validateKnobPatch(input: unknown): KnobValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, field: 'knobs', message: 'knobs must be an object of knob name to value' };
  }
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length === 0) return { ok: false, field: 'knobs', message: 'knobs must name at least one knob' };
  const knobs: Record<string, number | boolean> = {};
  const clamped: KnobName[] = [];
  for (const [name, value] of entries) {
    const spec = BY_NAME.get(name);
    if (!spec) {
      return { ok: false, field: `knobs.${name}`, message: `unknown knob "${name}"; GET /api/optimizer/knobs lists the knobs` };
    }
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') return { ok: false, field: `knobs.${name}`, message: `${name} must be true or false` };
      knobs[spec.name] = value;
    } else {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return { ok: false, field: `knobs.${name}`, message: `${name} must be a finite number (${spec.unit})` };
      }
      const v = Math.min(spec.max as number, Math.max(spec.min as number, value));
      if (v !== value) clamped.push(spec.name);
      knobs[spec.name] = v;
    }
  }
  // Every name is in the registry and every value of its knob's type.
  return { ok: true, knobs: knobs as KnobPatch, clamped };
}

/** Applies a validated patch to a full set of values, returning a new object. */
export function mergeKnobs(base: KnobValues, patch: KnobPatch): KnobValues {
  return { ...base, ...patch } as KnobValues;
}
