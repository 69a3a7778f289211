/**
 * The knob registry: every knob of the per-station DSP chain, as data, in one place.
 *
 * The relay validates and clamps against it, serves it at `GET /api/optimizer/knobs`,
 * and the chain reads its defaults from it. Values outside a range are clamped
 * (seed 000 §5.4: "updates are clamped & validated server-side"); unknown names are rejected.
 */

export type KnobType = 'number' | 'boolean';

export interface KnobSpec {
  readonly name: KnobName;
  readonly type: KnobType;
  /** Unit of a numeric knob ('dB', 'dBFS', 'Hz', 'ms', 'ratio'); null for booleans. */
  readonly unit: string | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly default: number | boolean;
  readonly description: string;
}

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

/** Every knob with a value: what a bucket's `knobs_snapshot` carries. */
export type KnobValues = { [K in KnobName]: K extends `${string}.enabled` ? boolean : number };

/** A partial set of knobs, as requested by an apply. */
export type KnobPatch = Partial<Record<KnobName, number | boolean>>;

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
  const knobs: KnobPatch = {};
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
  return { ok: true, knobs, clamped };
}

/** Applies a validated patch to a full set of values, returning a new object. */
export function mergeKnobs(base: KnobValues, patch: KnobPatch): KnobValues {
  return { ...base, ...patch } as KnobValues;
}
