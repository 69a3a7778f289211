/**
 * The decision rule on hand-built bucket rows: known answers for each rule, in both target
 * modes, and the rules that keep it from acting on too little evidence or from raising a
 * station whose peaks already reach the ceiling.
 */
import { describe, expect, it } from 'vitest';
import { validateKnobPatch, type KnobPatch } from '../../../protocol/knobs.ts';
import { analyze, type Analysis } from './analysis.ts';
import { decide, inTarget, raiseBlock, type Decision } from './policy.ts';
import { handEntry, type HandTap } from './snapshot-fixtures.ts';
import { LOUDNESS_TARGETS, RMS_TARGETS, targetsFor, type Targets } from './targets.ts';

const bucket = (post: HandTap, knobs: KnobPatch = {}, pre?: HandTap): Analysis => analyze(handEntry({ post, knobs, pre }));
const run = (post: HandTap, knobs: KnobPatch = {}, t: Targets = RMS_TARGETS, pre?: HandTap): Decision => decide(bucket(post, knobs, pre), t);

function change(d: Decision): Extract<Decision, { kind: 'change' }> {
  if (d.kind !== 'change') throw new Error(`expected a change, got hold ${d.code}: ${d.reason}`);
  return d;
}
const raised = (d: Decision): boolean => d.kind === 'change' && d.expect.gainStepDb > 0;

describe('decide, rms mode', () => {
  it('brings a station at -35 dBFS up by +12 dB, then +3 dB', () => {
    const first = change(run({ lufs: -35, peakDbfs: -20 }));
    expect(first.knobs).toEqual({ 'pcm.input_gain_db': 12 });
    expect(first.expect).toEqual({ gainStepDb: 12, peakFix: false, compressorOn: false });
    expect(first.reason).toBe('level -35.0 dBFS is 15.0 dB under the -20.0 ± 2.0 dBFS target: gain 0.0 → +12.0 dB (+12.0 dB, step capped at 12.0 dB)');

    const second = change(run({ lufs: -23, peakDbfs: -8 }, { 'pcm.input_gain_db': 12 }));
    expect(second.knobs).toEqual({ 'pcm.input_gain_db': 15 });
    expect(second.expect.gainStepDb).toBe(3);

    expect(run({ lufs: -20, peakDbfs: -5 }, { 'pcm.input_gain_db': 15 }).kind).toBe('hold');
  });

  it('takes a clipping -8 dBFS source down 12 dB and turns the limiter on at -1 dBFS', () => {
    const d = change(run({ lufs: -8, peakDbfs: 0, clippingRatio: 0.03 }));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': -12, 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(d.expect).toEqual({ gainStepDb: -12, peakFix: true, compressorOn: false });
    expect(d.reason).toContain('clipping 3.00 % is at or over 0.10 %: limiter on at -1.0 dBFS');
    // Every knob it asks for passes the relay's own validation unchanged.
    const v = validateKnobPatch(d.knobs);
    expect(v.ok && v.clamped).toEqual([]);
  });

  it('leaves a station in target alone, including one whose limiter holds sample peaks at exactly -1 dBFS', () => {
    expect(run({ lufs: -20.5, peakDbfs: -6 })).toMatchObject({ kind: 'hold', code: 'in_target' });
    expect(run({ lufs: -18.1, peakDbfs: -1, truePeakDbtp: -0.6 }, { 'limiter.enabled': true }).kind).toBe('hold');
    expect(run({ lufs: -21.9, peakDbfs: -3, clippingRatio: 0.0009 }).kind).toBe('hold');
  });

  it('treats the target edges as in target and anything past them as out', () => {
    const tap = (over: HandTap) => bucket(over).post;
    expect(inTarget(tap({ lufs: -22, peakDbfs: -5 }), RMS_TARGETS)).toBe(true);
    expect(inTarget(tap({ lufs: -22.01, peakDbfs: -5 }), RMS_TARGETS)).toBe(false);
    expect(inTarget(tap({ lufs: -20, peakDbfs: -0.9 }), RMS_TARGETS)).toBe(false);
    expect(inTarget(tap({ lufs: -20, peakDbfs: -5, clippingRatio: 0.001 }), RMS_TARGETS)).toBe(false);
  });

  it('aims a small error at the centre, rounded to 0.1 dB', () => {
    const d = change(run({ lufs: -17.46, peakDbfs: -4 }, { 'pcm.input_gain_db': 3 }));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 0.5 });
    expect(d.expect.gainStepDb).toBe(-2.5);
  });

  it('turns the limiter on when the peak after a gain increase would come within 3 dB of -1 dBFS', () => {
    const d = change(run({ lufs: -26, peakDbfs: -6 }));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 6, 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(d.reason).toContain('peak 0.0 dBFS after the gain change comes within 3.0 dB of -1.0 dBFS: limiter on at -1.0 dBFS');
    expect(change(run({ lufs: -26, peakDbfs: -10, truePeakDbtp: -10 })).knobs).toMatchObject({ 'limiter.enabled': true });
    expect(change(run({ lufs: -26, peakDbfs: -10.1, truePeakDbtp: -10.1 })).knobs).toEqual({ 'pcm.input_gain_db': 6 });
    // ...but not when a limiter at -1 dBFS is already on.
    expect(change(run({ lufs: -26, peakDbfs: -6 }, { 'limiter.enabled': true })).knobs).toEqual({ 'pcm.input_gain_db': 6 });
  });

  it('turns the limiter on alone for hot peaks on a level in target, and lowers a limiter set too high', () => {
    expect(change(run({ lufs: -19, peakDbfs: -0.5 })).knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    const high = { 'limiter.enabled': true, 'limiter.threshold_dbfs': 0 };
    expect(change(run({ lufs: -19, peakDbfs: 0, clippingRatio: 0.002 }, high)).knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
  });

  it('turns the compressor on, and leaves the gain for the next step, when the crest factor is over 10 dB', () => {
    const d = change(run({ lufs: -33, peakDbfs: -12, loudestDbfs: -20.5 }));
    expect(d.knobs).toEqual({ 'compressor.enabled': true, 'compressor.threshold_dbfs': -27, 'compressor.ratio': 4 });
    expect(d.expect).toEqual({ gainStepDb: 0, peakFix: false, compressorOn: true });
    expect(d.reason).toContain('crest factor 12.5 dB (loudest 20 ms frame over the level) is over 10.0 dB');
    // Once it is on, the gain moves and the compressor's threshold moves with it.
    const next = change(run({ lufs: -35, peakDbfs: -20, loudestDbfs: -27 }, { 'compressor.enabled': true, 'compressor.threshold_dbfs': -27 }));
    expect(next.knobs).toEqual({ 'pcm.input_gain_db': 12, 'compressor.threshold_dbfs': -15 });
    // Ordinary speech (6-7 dB) does not trigger it, nor does a wide crest factor on a level in target.
    expect(change(run({ lufs: -35, peakDbfs: -20 })).expect.compressorOn).toBe(false);
    expect(run({ lufs: -20, peakDbfs: -6, loudestDbfs: -6 })).toMatchObject({ kind: 'hold', code: 'in_target' });
  });

  it('stops at the gain knob range and says so', () => {
    const d = change(run({ lufs: -50, peakDbfs: -35 }, { 'pcm.input_gain_db': 35 }));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 40 });
    expect(d.reason).toContain('(+5.0 dB, gain at its limit)');
    const stuck = run({ lufs: -45, peakDbfs: -30 }, { 'pcm.input_gain_db': 40 });
    expect(stuck).toMatchObject({ kind: 'hold', code: 'at_limit' });
    expect(stuck.reason).toContain('gain is at its limit (+40.0 dB)');
  });

  it('follows configured targets', () => {
    const t = targetsFor('rms', { levelDb: -16, toleranceDb: 1, maxStepDb: 6 });
    expect(change(run({ lufs: -20, peakDbfs: -10 }, {}, t)).knobs).toEqual({ 'pcm.input_gain_db': 4 });
    expect(change(run({ lufs: -30, peakDbfs: -20 }, {}, t)).knobs).toEqual({ 'pcm.input_gain_db': 6 });
  });
});

describe('decide, loudness mode (EBU R 128)', () => {
  const T = LOUDNESS_TARGETS;

  it('defaults to -23 LUFS ± 1 LU and a true peak of -1 dBTP', () => {
    expect([T.levelDb, T.toleranceDb, T.maxPeakDb]).toEqual([-23, 1, -1]);
    const d = change(run({ lufs: -30.3, peakDbfs: -16, truePeakDbtp: -15.8 }, {}, T));
    expect(d.knobs).toEqual({ 'pcm.input_gain_db': 7.3 });
    expect(d.reason).toBe('level -30.3 LUFS is 7.3 LU under the -23.0 ± 1.0 LUFS target: gain 0.0 → +7.3 dB (+7.3 dB)');
    expect(run({ lufs: -23.9, truePeakDbtp: -9 }, {}, T)).toMatchObject({ kind: 'hold', code: 'in_target' });
    expect(run({ lufs: -24.1, truePeakDbtp: -9 }, {}, T).kind).toBe('change');
  });

  it('judges peaks by the true peak: a sample peak under the ceiling with a true peak over it is out of target', () => {
    const d = change(run({ lufs: -23, peakDbfs: -1.4, truePeakDbtp: -0.4 }, {}, T));
    // A sample-peak limiter goes on 1 dB under the true-peak ceiling (targets.ts).
    expect(d.knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -2 });
    expect(d.reason).toContain('peak -0.4 dBTP reaches -1.0 dBTP: limiter on at -2.0 dBFS');
    // The same bucket is in target in rms mode, where the ceiling is on the sample peak.
    expect(run({ lufs: -20, peakDbfs: -1.4, truePeakDbtp: -0.4 }).kind).toBe('hold');
  });

  it('lowers a limiter whose sample-peak threshold still lets the true peak over the ceiling, by the overshoot', () => {
    const d = change(run({ lufs: -23.2, peakDbfs: -2, truePeakDbtp: -0.7 }, { 'limiter.enabled': true, 'limiter.threshold_dbfs': -2 }, T));
    expect(d.knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -2.5 });
    expect(d.expect).toEqual({ gainStepDb: 0, peakFix: true, compressorOn: false });
  });

  it('reaches the target from a quiet and from a hot talker, each step on the bucket the last one made', () => {
    // A linear chain: POST is PRE plus the gain, peaks held by the limiter when it is on.
    // The talker's true peak sits 19 dB over their loudness (espeak-ng speech, measured).
    for (const preLufs of [-41, -35, -27, -12, -5]) {
      let knobs: KnobPatch = {};
      const trail: string[] = [];
      let post: HandTap = { lufs: preLufs };
      for (let step = 0; step < 5; step++) {
        const gain = (knobs['pcm.input_gain_db'] as number | undefined) ?? 0;
        const lufs = preLufs + gain;
        const rawPeak = preLufs + 19 + gain;
        const limited = knobs['limiter.enabled'] ? Math.min(rawPeak, (knobs['limiter.threshold_dbfs'] as number) + 0.5) : rawPeak;
        post = { lufs, peakDbfs: Math.min(limited - 0.3, 0), truePeakDbtp: limited, clippingRatio: !knobs['limiter.enabled'] && rawPeak > 0 ? 0.01 : 0 };
        const pre: HandTap = { lufs: preLufs, peakDbfs: Math.min(preLufs + 18.7, 0), truePeakDbtp: preLufs + 19, clippingRatio: preLufs + 19 > 0 ? 0.01 : 0 };
        const d = decide(bucket(post, knobs, pre), T);
        trail.push(`${lufs.toFixed(1)} LUFS → ${d.kind === 'change' ? JSON.stringify(d.knobs) : d.code}`);
        if (d.kind === 'hold') break;
        knobs = { ...knobs, ...d.knobs };
      }
      expect(Math.abs((post.lufs as number) - -23), trail.join('\n')).toBeLessThanOrEqual(1);
      expect(post.truePeakDbtp, trail.join('\n')).toBeLessThanOrEqual(-1 + 0.01);
      expect(trail.length, trail.join('\n')).toBeLessThanOrEqual(4);
    }
  });
});

describe('evidence', () => {
  it('holds the first bucket of a station that started 60 ms before a boundary: 3 frames of its leading noise', () => {
    // As the relay would write it had a block ended in it: the noise floor read as the level.
    const noise: HandTap = { frames: 3, lufs: -36.7, stationLufs: -36.7, activeS: 0, peakDbfs: -30, loudestDbfs: -35.5, quietestDbfs: -37.9 };
    const d = run(noise);
    expect(d).toMatchObject({ kind: 'hold', code: 'short_bucket' });
    expect(d.reason).toBe("the bucket holds 0.06 s of the station's audio (3 frames of 20 ms), under the 1.00 s needed to judge a level: a station's first or last bucket");
    expect(run(noise, {}, LOUDNESS_TARGETS)).toMatchObject({ kind: 'hold', code: 'short_bucket' });
    // Without the evidence rules this is the failure seen: +12 dB on a hot station.
    const trusting = targetsFor('rms', { minCoveredS: 0, minActiveS: 0, minFrameSpreadDb: 0 });
    expect(change(run(noise, {}, trusting)).knobs).toEqual({ 'pcm.input_gain_db': 12 });
  });

  it('holds a bucket of under 1 s of audio even when its blocks pass the gates', () => {
    // 0.6 s of noise: 3 blocks end in it, and pass the gate of a station that has heard only noise.
    expect(run({ frames: 30, lufs: -52, activeS: 0.3, quietestDbfs: -55, loudestDbfs: -51 })).toMatchObject({ kind: 'hold', code: 'short_bucket' });
    expect(run({ frames: 49, lufs: -35, activeS: 0.6 })).toMatchObject({ kind: 'hold', code: 'short_bucket' });
    expect(run({ frames: 50, lufs: -35, activeS: 1.0 }).kind).toBe('change');
  });

  it('holds a bucket with under 1 s of active speech', () => {
    const d = run({ lufs: -35, activeS: 0.9 });
    expect(d).toMatchObject({ kind: 'hold', code: 'little_speech' });
    expect(d.reason).toBe('0.90 s of active speech in the bucket (gated 400 ms blocks at PRE), under the 1.00 s needed');
    expect(run({ lufs: null, activeS: 0 })).toMatchObject({ kind: 'hold', code: 'little_speech' });
    expect(run({ lufs: -35, activeS: 1 }).kind).toBe('change');
    expect(run({ lufs: -35, activeS: 0.5 }, {}, targetsFor('rms', { minActiveS: 0.5 })).kind).toBe('change');
  });

  it('holds a steady noise floor that passes the gates because the station has heard nothing else', () => {
    // A station that started 1.5 s before a boundary with room noise: 75 frames, 12 blocks.
    const floor: HandTap = { frames: 75, lufs: -50, activeS: 1.2, peakDbfs: -40, loudestDbfs: -48.9, quietestDbfs: -51.8 };
    const d = run(floor);
    expect(d).toMatchObject({ kind: 'hold', code: 'steady_signal' });
    expect(d.reason).toContain('the 20 ms frame levels spread by 2.9 dB (-51.8 to -48.9 dBFS at PRE), under the 10.0 dB of speech');
    expect(change(run(floor, {}, targetsFor('rms', { minFrameSpreadDb: 0 }))).knobs).toEqual({ 'pcm.input_gain_db': 12 });
  });

  it('holds, for decisions, the bucket that carries a knob change; the bucket after it decides', () => {
    const after = (previous: number | null) => decide(analyze(handEntry({ post: { lufs: -21.6 }, knobs: { 'pcm.input_gain_db': -12 }, configVersion: 1 }), previous), LOUDNESS_TARGETS);
    const d = after(0);
    expect(d).toMatchObject({ kind: 'hold', code: 'knobs_changed' });
    expect(d.reason).toBe('the bucket carries a knob change (config v0 → v1): its first 400 ms blocks were measured partly under the old knobs, so the next bucket decides');
    expect(change(after(1)).knobs).toEqual({ 'pcm.input_gain_db': -13.4 });
    expect(change(after(null)).knobs).toEqual({ 'pcm.input_gain_db': -13.4 });
  });

  it('holds a bucket stored before the relay measured loudness', () => {
    const d = run({ lufs: -35, unmeasured: true });
    expect(d).toMatchObject({ kind: 'hold', code: 'no_loudness' });
  });
});

describe('a gain is never raised on a station whose peaks reach the ceiling', () => {
  it('not when POST clips, and not when the POST true peak is at or over the ceiling', () => {
    const clips = run({ lufs: -26, peakDbfs: 0, truePeakDbtp: 0.6, clippingRatio: 0.0004 });
    expect(raised(clips)).toBe(false);
    // Clipping under the 0.1 % target still blocks the raise; the peak calls for the limiter.
    expect(change(clips).knobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(change(clips).reason).toContain('level -26.0 dBFS is 6.0 dB under the -20.0 ± 2.0 dBFS target, but the gain is not raised: POST clips (0.04 % of samples)');

    // A limiter that already holds the peaks at the ceiling: nothing to do but say why.
    const held = run({ lufs: -26, peakDbfs: -1, truePeakDbtp: -0.8 }, { 'limiter.enabled': true });
    expect(held).toMatchObject({ kind: 'hold', code: 'peaks_at_ceiling' });
    expect(held.reason).toContain('POST true peak -0.8 dBTP already reaches the -1.0 dBFS ceiling');

    const atCeiling = run({ lufs: -27, peakDbfs: -1.6, truePeakDbtp: -1 }, { 'limiter.enabled': true, 'limiter.threshold_dbfs': -2 }, LOUDNESS_TARGETS);
    expect(atCeiling).toMatchObject({ kind: 'hold', code: 'peaks_at_ceiling' });
    // 0.1 dB of headroom is headroom: the raise goes ahead (and the limiter takes the peaks).
    expect(raised(run({ lufs: -27, peakDbfs: -1.6, truePeakDbtp: -1.1 }, { 'limiter.enabled': true, 'limiter.threshold_dbfs': -2 }, LOUDNESS_TARGETS))).toBe(true);
  });

  it('not when the source clips before the chain, even with the gain cut and POST far from the ceiling', () => {
    const pre: HandTap = { lufs: -10, peakDbfs: 0, truePeakDbtp: 2.4, clippingRatio: 0.03 };
    const d = run({ lufs: -24.5, peakDbfs: -14, truePeakDbtp: -12.6 }, { 'pcm.input_gain_db': -14.5, 'limiter.enabled': true }, RMS_TARGETS, pre);
    expect(d).toMatchObject({ kind: 'hold', code: 'peaks_at_ceiling' });
    expect(d.reason).toContain('the source clips before the chain (PRE clipping 3.00 %)');
    expect(raiseBlock(bucket({ lufs: -24.5, peakDbfs: -14 }, { 'pcm.input_gain_db': -14.5 }, { ...pre, clippingRatio: 0 }), RMS_TARGETS)).toBeNull();
  });

  it('never, over a sweep of hot and clipping buckets in both modes; lowering still happens', () => {
    let lowered = 0;
    for (const t of [RMS_TARGETS, LOUDNESS_TARGETS]) {
      for (let lufs = -45; lufs <= 0; lufs += 1.5) {
        for (const gain of [-20, -6, 0, 6]) {
          const hot: HandTap[] = [
            { lufs, peakDbfs: 0, truePeakDbtp: 1.5, clippingRatio: 0.0001 },
            { lufs, peakDbfs: -1.2, truePeakDbtp: t.maxPeakDb },
            { lufs, peakDbfs: -1, truePeakDbtp: -0.2, clippingRatio: 0 },
          ];
          for (const post of hot) {
            const d = run(post, { 'pcm.input_gain_db': gain }, t);
            expect(raised(d), `${t.mode} ${JSON.stringify(post)} gain ${gain}: ${d.reason}`).toBe(false);
            if (d.kind === 'change' && d.expect.gainStepDb < 0) lowered++;
          }
          const d = run({ lufs, peakDbfs: -12 }, { 'pcm.input_gain_db': gain }, t, { lufs: lufs - gain, peakDbfs: 0, clippingRatio: 0.02 });
          expect(raised(d), `${t.mode} PRE clipping, gain ${gain}: ${d.reason}`).toBe(false);
        }
      }
    }
    expect(lowered).toBeGreaterThan(50);
  });
});
