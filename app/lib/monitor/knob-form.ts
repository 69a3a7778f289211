/**
 * The knob panel's logic, pure so that its tests and the page agree: what an operator typed,
 * checked against the registry's ranges (the relay would clamp an out-of-range value; the
 * panel says so instead of sending it), the patch of the knobs that changed, and the bucket
 * a change made now can still catch.
 */
import type { KnobSpec } from '$protocol/knobs';

// The bucket a change made now can catch: one rule for the panel and the browser tests.
export { APPLY_MIN_LEAD_MS, nextApplyBucketMs } from '../../../protocol/optimizer-api.ts';

export type KnobValue = number | boolean;
export type KnobDraft = string | boolean;

export type ParsedKnob = { ok: true; value: KnobValue } | { ok: false; message: string };

/** A draft as its knob's value, or why it is not one. */
export function parseKnobDraft(spec: KnobSpec, draft: KnobDraft): ParsedKnob {
  if (spec.type === 'boolean') {
    return typeof draft === 'boolean' ? { ok: true, value: draft } : { ok: false, message: `${spec.name} must be on or off` };
  }
  const text = typeof draft === 'string' ? draft.trim() : '';
  const value = text === '' ? NaN : Number(text);
  const min = spec.min as number;
  const max = spec.max as number;
  const range = `${min} to ${max} ${spec.unit ?? ''}`.trim();
  if (!Number.isFinite(value)) return { ok: false, message: `${spec.name}: enter a number from ${range}` };
  if (value < min || value > max) return { ok: false, message: `${spec.name}: ${value} is outside ${range}` };
  return { ok: true, value };
}

/** What a draft shows for a value (numbers as typed text). */
export function draftOf(spec: KnobSpec, value: KnobValue | undefined): KnobDraft {
  const v = value ?? spec.default;
  if (spec.type === 'boolean') return v === true;
  return String(typeof v === 'number' ? Number(v.toFixed(6)) : v);
}

export interface KnobChanges {
  /** The knobs whose draft differs from the current value (valid drafts only). */
  patch: Record<string, KnobValue>;
  /** One message per invalid draft. */
  errors: Record<string, string>;
}

/** The changed knobs and the invalid drafts; `current` is the station's values (defaults where unknown). */
export function knobChanges(specs: readonly KnobSpec[], current: Readonly<Record<string, KnobValue>> | null, drafts: Readonly<Record<string, KnobDraft>>): KnobChanges {
  const patch: Record<string, KnobValue> = {};
  const errors: Record<string, string> = {};
  for (const spec of specs) {
    const draft = drafts[spec.name];
    if (draft === undefined) continue;
    const parsed = parseKnobDraft(spec, draft);
    if (!parsed.ok) {
      errors[spec.name] = parsed.message;
      continue;
    }
    const now = current?.[spec.name] ?? spec.default;
    if (parsed.value !== now) patch[spec.name] = parsed.value;
  }
  return { patch, errors };
}

/** A fresh idempotency key (crypto.getRandomValues works outside secure contexts too, unlike randomUUID). */
export function applyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `operator-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
