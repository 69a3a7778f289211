import { describe, expect, it } from 'vitest';
import { defaultKnobs, KNOB_NAMES, KNOBS, knobSpec, mergeKnobs, validateKnobPatch, type KnobName, type KnobValidation } from './knobs.ts';

function ok(r: KnobValidation): Extract<KnobValidation, { ok: true }> {
  if (!r.ok) throw new Error(`expected a valid patch, got ${r.field}: ${r.message}`);
  return r;
}

function bad(r: KnobValidation): Extract<KnobValidation, { ok: false }> {
  if (r.ok) throw new Error(`expected an invalid patch, got ${JSON.stringify(r)}`);
  return r;
}

const numeric = KNOBS.filter((k) => k.type === 'number');
const booleans = KNOBS.filter((k) => k.type === 'boolean');

describe('knob registry', () => {
  it('has the 13 knobs of the chain, in chain order, with unique names', () => {
    expect(KNOBS).toHaveLength(13);
    expect(KNOBS.map((k) => k.name)).toEqual([...KNOB_NAMES]);
    expect(new Set(KNOBS.map((k) => k.name)).size).toBe(13);
  });

  it('types every *.enabled knob as boolean and every other as number', () => {
    for (const k of KNOBS) expect(k.type, k.name).toBe(k.name.endsWith('.enabled') ? 'boolean' : 'number');
    expect(booleans.map((k) => k.name)).toEqual(['hpf.enabled', 'gate.enabled', 'compressor.enabled', 'limiter.enabled']);
    expect(numeric).toHaveLength(9);
  });

  it.each(numeric.map((k) => [k.name, k] as const))('%s: a unit, finite min < max, default inside', (_name, k) => {
    expect(['dB', 'dBFS', 'Hz', 'ms', 'ratio']).toContain(k.unit);
    expect(typeof k.min).toBe('number');
    expect(typeof k.max).toBe('number');
    expect(Number.isFinite(k.min)).toBe(true);
    expect(Number.isFinite(k.max)).toBe(true);
    expect(k.min as number).toBeLessThan(k.max as number);
    expect(typeof k.default).toBe('number');
    expect(k.default as number).toBeGreaterThanOrEqual(k.min as number);
    expect(k.default as number).toBeLessThanOrEqual(k.max as number);
  });

  it.each(booleans.map((k) => [k.name, k] as const))('%s: null unit and range, boolean default', (_name, k) => {
    expect(k.unit).toBeNull();
    expect(k.min).toBeNull();
    expect(k.max).toBeNull();
    expect(typeof k.default).toBe('boolean');
  });

  it('has a description on every knob', () => {
    for (const k of KNOBS) expect(k.description.length, k.name).toBeGreaterThan(10);
  });

  it('uses the units its names promise', () => {
    for (const k of numeric) {
      const unit = k.name.endsWith('_dbfs') ? 'dBFS' : k.name.endsWith('_db') ? 'dB' : k.name.endsWith('_hz') ? 'Hz' : k.name.endsWith('_ms') ? 'ms' : 'ratio';
      expect(k.unit, k.name).toBe(unit);
    }
  });

  it('looks knobs up by name', () => {
    expect(knobSpec('compressor.ratio')).toBe(KNOBS[7]);
    expect(knobSpec('compressor.ratio')?.min).toBe(1);
    expect(knobSpec('nope')).toBeUndefined();
    expect(knobSpec('toString')).toBeUndefined();
  });
});

describe('defaultKnobs', () => {
  it('has every knob at its registry default, and nothing else', () => {
    const d = defaultKnobs();
    expect(Object.keys(d).sort()).toEqual([...KNOB_NAMES].sort());
    for (const k of KNOBS) expect(d[k.name], k.name).toBe(k.default);
  });

  it('leaves every stage off by default with unity input gain', () => {
    const d = defaultKnobs();
    expect(d['pcm.input_gain_db']).toBe(0);
    expect([d['hpf.enabled'], d['gate.enabled'], d['compressor.enabled'], d['limiter.enabled']]).toEqual([false, false, false, false]);
  });

  it('returns a fresh object each time', () => {
    const a = defaultKnobs();
    a['compressor.ratio'] = 20;
    expect(defaultKnobs()['compressor.ratio']).toBe(4);
    expect(defaultKnobs()).not.toBe(defaultKnobs());
  });
});

describe('validateKnobPatch', () => {
  it('accepts in-range values as given, with nothing clamped', () => {
    const r = ok(validateKnobPatch({ 'hpf.enabled': true, 'hpf.cutoff_hz': 120, 'compressor.attack_ms': 0.1, 'limiter.threshold_dbfs': -3.5 }));
    expect(r.knobs).toEqual({ 'hpf.enabled': true, 'hpf.cutoff_hz': 120, 'compressor.attack_ms': 0.1, 'limiter.threshold_dbfs': -3.5 });
    expect(r.clamped).toEqual([]);
  });

  it.each(numeric.map((k) => [k.name, k.min as number, k.max as number] as const))('%s: exact bounds pass unclamped', (name, min, max) => {
    expect(ok(validateKnobPatch({ [name]: min }))).toEqual({ ok: true, knobs: { [name]: min }, clamped: [] });
    expect(ok(validateKnobPatch({ [name]: max }))).toEqual({ ok: true, knobs: { [name]: max }, clamped: [] });
  });

  it.each(numeric.map((k) => [k.name, k.min as number, k.max as number] as const))('%s: clamps below min and above max to the exact bound', (name, min, max) => {
    const span = max - min;
    expect(ok(validateKnobPatch({ [name]: min - span }))).toEqual({ ok: true, knobs: { [name]: min }, clamped: [name] });
    expect(ok(validateKnobPatch({ [name]: max + span }))).toEqual({ ok: true, knobs: { [name]: max }, clamped: [name] });
    expect(ok(validateKnobPatch({ [name]: -Number.MAX_VALUE }))).toEqual({ ok: true, knobs: { [name]: min }, clamped: [name] });
    expect(ok(validateKnobPatch({ [name]: Number.MAX_VALUE }))).toEqual({ ok: true, knobs: { [name]: max }, clamped: [name] });
  });

  it('clamps a value just past a fractional bound', () => {
    expect(ok(validateKnobPatch({ 'compressor.attack_ms': 0.09 }))).toEqual({ ok: true, knobs: { 'compressor.attack_ms': 0.1 }, clamped: ['compressor.attack_ms'] });
  });

  it('reports exactly the clamped knobs, in request order, alongside unclamped ones', () => {
    const r = ok(
      validateKnobPatch({
        'limiter.threshold_dbfs': 3,
        'compressor.ratio': 2,
        'pcm.input_gain_db': -100,
        'compressor.enabled': true,
        'compressor.release_ms': 1,
      }),
    );
    expect(r.knobs).toEqual({
      'limiter.threshold_dbfs': 0,
      'compressor.ratio': 2,
      'pcm.input_gain_db': -40,
      'compressor.enabled': true,
      'compressor.release_ms': 5,
    });
    expect(r.clamped).toEqual<KnobName[]>(['limiter.threshold_dbfs', 'pcm.input_gain_db', 'compressor.release_ms']);
  });

  it('treats -0 as 0, not as clamped', () => {
    expect(ok(validateKnobPatch({ 'compressor.makeup_db': -0 })).clamped).toEqual([]);
  });

  it.each([
    ['a misspelt name', { 'compressor.ration': 4 }, 'compressor.ration'],
    ['a stage name alone', { compressor: 4 }, 'compressor'],
    ['a different case', { 'HPF.enabled': true }, 'HPF.enabled'],
    ['an inherited property name', { toString: 1 }, 'toString'],
    ['__proto__ as an own key', JSON.parse('{"__proto__": 1}'), '__proto__'],
  ])('rejects %s with field knobs.<name>', (_what, patch, name) => {
    const e = bad(validateKnobPatch(patch));
    expect(e.field).toBe(`knobs.${name}`);
    expect(e.message).toBe(`unknown knob "${name}"; GET /api/optimizer/knobs lists the knobs`);
  });

  it('rejects the whole patch when one name is unknown, even after valid ones', () => {
    expect(bad(validateKnobPatch({ 'hpf.enabled': true, 'gain.db': 3 })).field).toBe('knobs.gain.db');
  });

  it.each([
    ['hpf.enabled', 1],
    ['hpf.enabled', 'true'],
    ['hpf.enabled', null],
    ['gate.enabled', 0],
    ['limiter.enabled', {}],
  ])('rejects %s = %j (not a boolean)', (name, v) => {
    const e = bad(validateKnobPatch({ [name]: v }));
    expect(e).toEqual({ ok: false, field: `knobs.${name}`, message: `${name} must be true or false` });
  });

  it.each([
    ['compressor.ratio', '4', 'ratio'],
    ['compressor.ratio', true, 'ratio'],
    ['hpf.cutoff_hz', null, 'Hz'],
    ['hpf.cutoff_hz', [80], 'Hz'],
    ['pcm.input_gain_db', Number.NaN, 'dB'],
    ['pcm.input_gain_db', Number.POSITIVE_INFINITY, 'dB'],
    ['gate.threshold_dbfs', Number.NEGATIVE_INFINITY, 'dBFS'],
    ['compressor.attack_ms', undefined, 'ms'],
  ])('rejects %s = %j (not a finite number) naming the unit', (name, v, unit) => {
    const e = bad(validateKnobPatch({ [name]: v }));
    expect(e).toEqual({ ok: false, field: `knobs.${name}`, message: `${name} must be a finite number (${unit})` });
  });

  it('rejects an empty object', () => {
    expect(validateKnobPatch({})).toEqual({ ok: false, field: 'knobs', message: 'knobs must name at least one knob' });
  });

  it.each([null, undefined, 4, 'hpf.enabled', true, [], [['hpf.enabled', true]]])('rejects the non-object %j', (input) => {
    expect(validateKnobPatch(input)).toEqual({ ok: false, field: 'knobs', message: 'knobs must be an object of knob name to value' });
  });

  it('does not modify its input', () => {
    const input = { 'compressor.ratio': 100, 'hpf.enabled': true };
    const r = ok(validateKnobPatch(input));
    expect(input).toEqual({ 'compressor.ratio': 100, 'hpf.enabled': true });
    expect(r.knobs).not.toBe(input);
  });
});

describe('mergeKnobs', () => {
  it('returns a new object with the patch over the base', () => {
    const base = defaultKnobs();
    const before = structuredClone(base);
    const patch = { 'compressor.enabled': true, 'compressor.ratio': 8 };
    const merged = mergeKnobs(base, patch);
    expect(merged).not.toBe(base);
    expect(merged).toEqual({ ...before, 'compressor.enabled': true, 'compressor.ratio': 8 });
    expect(base).toEqual(before);
    expect(patch).toEqual({ 'compressor.enabled': true, 'compressor.ratio': 8 });
  });

  it('returns an equal copy for an empty patch', () => {
    const base = defaultKnobs();
    const merged = mergeKnobs(base, {});
    expect(merged).toEqual(base);
    expect(merged).not.toBe(base);
  });

  it('composes with validateKnobPatch: a clamped value lands in the merged set', () => {
    const r = ok(validateKnobPatch({ 'hpf.cutoff_hz': 10_000 }));
    expect(mergeKnobs(defaultKnobs(), r.knobs)['hpf.cutoff_hz']).toBe(400);
  });
});
