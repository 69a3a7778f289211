import { describe, expect, it } from 'vitest';
import { KNOBS, knobSpec, type KnobSpec } from '../../../protocol/knobs.ts';
import { applyKey, draftOf, knobChanges, nextApplyBucketMs, parseKnobDraft } from './knob-form.ts';

const gain = knobSpec('pcm.input_gain_db') as KnobSpec;
const hpf = knobSpec('hpf.enabled') as KnobSpec;
const attack = knobSpec('compressor.attack_ms') as KnobSpec;

describe('knob form', () => {
  it('accepts values in range, refuses the rest with the range and unit', () => {
    expect(parseKnobDraft(gain, '-10')).toEqual({ ok: true, value: -10 });
    expect(parseKnobDraft(gain, ' 40 ')).toEqual({ ok: true, value: 40 });
    expect(parseKnobDraft(attack, '0.1')).toEqual({ ok: true, value: 0.1 });
    expect(parseKnobDraft(gain, '41')).toEqual({ ok: false, message: 'pcm.input_gain_db: 41 is outside -40 to 40 dB' });
    expect(parseKnobDraft(attack, '0.05')).toMatchObject({ ok: false, message: expect.stringContaining('0.1 to 200 ms') });
    expect(parseKnobDraft(gain, '')).toMatchObject({ ok: false, message: expect.stringContaining('enter a number') });
    expect(parseKnobDraft(gain, 'loud')).toMatchObject({ ok: false });
    expect(parseKnobDraft(gain, 'Infinity')).toMatchObject({ ok: false });
    expect(parseKnobDraft(hpf, true)).toEqual({ ok: true, value: true });
    expect(parseKnobDraft(hpf, 'true')).toMatchObject({ ok: false });
  });

  it('sends only the knobs that changed, and lists the invalid ones', () => {
    const current = { 'pcm.input_gain_db': 0, 'hpf.enabled': false, 'compressor.attack_ms': 10 };
    const drafts = Object.fromEntries(KNOBS.map((k) => [k.name, draftOf(k, (current as Record<string, number | boolean>)[k.name])]));
    expect(knobChanges(KNOBS, current, drafts)).toEqual({ patch: {}, errors: {} });
    expect(knobChanges(KNOBS, current, { ...drafts, 'pcm.input_gain_db': '-6', 'hpf.enabled': true, 'compressor.attack_ms': '999' })).toEqual({
      patch: { 'pcm.input_gain_db': -6, 'hpf.enabled': true },
      errors: { 'compressor.attack_ms': 'compressor.attack_ms: 999 is outside 0.1 to 200 ms' },
    });
    // Without a snapshot the defaults are what is in force.
    expect(knobChanges([gain], null, { 'pcm.input_gain_db': '0' }).patch).toEqual({});
  });

  it('picks the next bucket boundary, or the one after when it is too close', () => {
    expect(nextApplyBucketMs(10_000, 5000)).toBe(15_000);
    expect(nextApplyBucketMs(13_499, 5000)).toBe(15_000);
    expect(nextApplyBucketMs(13_501, 5000)).toBe(20_000);
    expect(nextApplyBucketMs(14_999, 5000, 0)).toBe(15_000);
  });

  it('makes a fresh idempotency key each time', () => {
    const a = applyKey();
    expect(a).toMatch(/^operator-[0-9a-f]{24}$/);
    expect(applyKey()).not.toBe(a);
  });
});
