import { describe, expect, it } from 'vitest';
import { defaultKnobs, mergeKnobs, validateKnobPatch, type KnobPatch } from '../../../protocol/knobs.ts';
import { decide, DEFAULT_TARGETS, inTarget, type Decision, type TapMeasurement } from './policy.ts';

const knobs = (patch: KnobPatch = {}) => mergeKnobs(defaultKnobs(), patch);
/** A measurement; the loudest frame sits 6.5 dB over the level, as in ordinary speech. */
const m = (levelDbfs: number | null, peakDbfs: number, clippingRatio: number, crestDb = 6.5): TapMeasurement => ({
  levelDbfs,
  peakDbfs,
  clippingRatio,
  loudestFrameDbfs: levelDbfs === null ? null : levelDbfs + crestDb,
});

function change(d: Decision): Extract<Decision, { kind: 'change' }> {
  if (d.kind !== 'change') throw new Error(`expected a change, got hold ${d.code}: ${d.reason}`);
  return d;
}

describe('decide', () => {
  it('brings a station at -35 dBFS up by +12 dB, then +3 dB', () => {
    const first = change(decide(m(-35, -20, 0), knobs()));
    expect(first.knobs).toEqual({ 'pcm.input_gain_db': 12 });
    expect(first.expect).toEqual({ gainStepDb: 12, peakFix: false, compressorOn: false });
    expect(first.reason).toBe('level -35.0 dBFS is 15.0 dB under the -20.0 ± 2.0 dBFS target: gain 0.0 → +12.0 dB (+12.0 dB, step capped at 12.0 dB)');

    const second = change(decide(m(-23, -8, 0), knobs({ 'pcm.input_gain_db': 12 })));
    expect(second.knobs).toEqual({ 'pcm.input_gain_db': 15 });
    expect(second.expect.gainStepDb).toBe(3);

    expect(decide(m(-20, -5, 0), knobs({ 'pcm.input_gain_db': 15 })).kind).toBe('hold');
  });

  it('takes a clipping -8 dBFS source down 12 dB and turns the limiter on at -1 dBFS', () => {
    const d = change(decide(m(-8, 0, 0.03), knobs()));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': -12, 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(d.expect).toEqual({ gainStepDb: -12, peakFix: true, compressorOn: false });
    expect(d.reason).toContain('clipping 3.00 % is at or over 0.10 %: limiter on at -1.0 dBFS');
    // Every knob it asks for passes the relay's own validation unchanged.
    const v = validateKnobPatch(d.knobs);
    expect(v.ok && v.clamped).toEqual([]);
  });

  it('leaves a station in target alone, including one whose limiter holds peaks at exactly -1 dBFS', () => {
    const d = decide(m(-20.5, -6, 0), knobs());
    expect(d).toMatchObject({ kind: 'hold', code: 'in_target' });
    expect(decide(m(-18.1, -1, 0), knobs({ 'limiter.enabled': true })).kind).toBe('hold');
    expect(decide(m(-21.9, -3, 0.0009), knobs()).kind).toBe('hold');
  });

  it('treats the target edges as in target and anything past them as out', () => {
    expect(inTarget(m(-22, -5, 0), DEFAULT_TARGETS)).toBe(true);
    expect(inTarget(m(-22.01, -5, 0), DEFAULT_TARGETS)).toBe(false);
    expect(inTarget(m(-20, -0.9, 0), DEFAULT_TARGETS)).toBe(false);
    expect(inTarget(m(-20, -5, 0.001), DEFAULT_TARGETS)).toBe(false);
  });

  it('aims a small error at the centre, rounded to 0.1 dB', () => {
    const d = change(decide(m(-17.46, -4, 0), knobs({ 'pcm.input_gain_db': 3 })));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 0.5 });
    expect(d.expect.gainStepDb).toBe(-2.5);
  });

  it('turns the limiter on when the peak after a gain increase would reach -1 dBFS', () => {
    const d = change(decide(m(-26, -6, 0), knobs()));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 6, 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(d.reason).toContain('peak 0.0 dBFS after the gain change reaches -1.0 dBFS');
    // ...but not when a limiter at -1 dBFS is already on.
    expect(change(decide(m(-26, -6, 0), knobs({ 'limiter.enabled': true }))).knobs).toEqual({ 'pcm.input_gain_db': 6 });
  });

  it('turns the limiter on alone for hot peaks on a level in target, and lowers a limiter set too high', () => {
    expect(change(decide(m(-19, -0.5, 0), knobs())).knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    const high = knobs({ 'limiter.enabled': true, 'limiter.threshold_dbfs': 0 });
    expect(change(decide(m(-19, 0, 0.002), high)).knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
  });

  it('turns the compressor on, and leaves the gain for the next step, when the crest factor is over 10 dB', () => {
    const d = change(decide(m(-33, -12, 0, 12.5), knobs()));
    expect(d.knobs).toEqual({ 'compressor.enabled': true, 'compressor.threshold_dbfs': -27, 'compressor.ratio': 4 });
    expect(d.expect).toEqual({ gainStepDb: 0, peakFix: false, compressorOn: true });
    expect(d.reason).toContain('crest factor 12.5 dB (loudest 20 ms frame over the level) is over 10.0 dB');
    // Once it is on, the gain moves and the compressor's threshold moves with it.
    const next = change(decide(m(-35, -15, 0, 8), knobs({ 'compressor.enabled': true, 'compressor.threshold_dbfs': -27 })));
    expect(next.knobs).toEqual({ 'pcm.input_gain_db': 12, 'compressor.threshold_dbfs': -15 });
    // Ordinary speech (6-7 dB) does not trigger it, nor does a wide crest factor on a level in target.
    expect(change(decide(m(-35, -20, 0), knobs())).expect.compressorOn).toBe(false);
    expect(decide(m(-20, -6, 0, 14), knobs())).toMatchObject({ kind: 'hold', code: 'in_target' });
  });

  it('stops at the gain knob range and says so', () => {
    const d = change(decide(m(-50, -35, 0), knobs({ 'pcm.input_gain_db': 35 })));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 40 });
    expect(d.reason).toContain('(+5.0 dB, gain at its limit)');
    const stuck = decide(m(-45, -30, 0), knobs({ 'pcm.input_gain_db': 40 }));
    expect(stuck).toMatchObject({ kind: 'hold', code: 'at_limit' });
    expect(stuck.reason).toContain('gain is at its limit (+40.0 dB)');
  });

  it('does nothing without speech', () => {
    expect(decide(m(null, -120, 0), knobs())).toMatchObject({ kind: 'hold', code: 'no_speech' });
  });

  it('follows configured targets', () => {
    const t = { ...DEFAULT_TARGETS, levelDbfs: -16, toleranceDb: 1, maxStepDb: 6 };
    expect(change(decide(m(-20, -10, 0), knobs(), t)).knobs).toEqual({ 'pcm.input_gain_db': 4 });
    expect(change(decide(m(-30, -20, 0), knobs(), t)).knobs).toEqual({ 'pcm.input_gain_db': 6 });
  });
});
