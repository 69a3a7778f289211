/**
 * The evidence rules on buckets metered as the relay meters them (snapshot-fixtures.ts):
 * a station's lead-in of noise, a steady floor the gates let through, one word in a bucket
 * of silence, and speech that passes.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { FrameMeter } from '../../../worklets/dsp/meters.ts';
import { speechLike, whiteNoise } from '../audio/signals.ts';
import { analyze, type Analysis } from './analysis.ts';
import { decisionEvidence as checkEvidence } from './evidence.ts';
import { meteredEntry } from './snapshot-fixtures.ts';
import { RMS_TARGETS, targetsFor } from './targets.ts';

const RATE = 16000;

/** Consecutive buckets of one station, metered with the station's meters carried across. */
function station(buckets: Float32Array[]): Analysis[] {
  const meters = { PRE: new FrameMeter(RATE), POST: new FrameMeter(RATE) };
  return buckets.map((x, i) => analyze(meteredEntry(i, x, RATE, defaultKnobs(), 0, meters)));
}

describe('checkEvidence', () => {
  it('holds a first bucket of 3 frames of noise, and the bucket after it once speech starts passes', () => {
    const floor = whiteNoise(-50, 10, RATE, 5);
    const talk = speechLike(-25, 5, RATE, 6);
    const second = floor.slice(0, 5 * RATE).map((v, i) => v + (i >= RATE ? talk[i - RATE] : 0));
    const [first, next] = station([floor.slice(0, 960), second]);
    expect(first.post.frames).toBe(3);
    // No 400 ms block ends in 60 ms of audio: the relay writes no loudness for it.
    expect([first.post.bucketLufs, first.post.activeS]).toEqual([null, 0]);
    expect(checkEvidence(first, RMS_TARGETS)).toMatchObject({ code: 'short_bucket' });
    expect(checkEvidence(next, RMS_TARGETS)).toBeNull();
    // The noise before the speech is gated out of the second bucket's loudness: it reads the talker.
    expect(next.post.bucketLufs).toBeGreaterThan(-27);
  });

  it('holds 1.5 s of a steady noise floor that the gates let through, by its frame spread alone', () => {
    const [a] = station([whiteNoise(-50, 1.5, RATE, 7)]);
    // The station has heard only this noise, so it passes the relative gate: 1.5 s of audio, 1.2 s "active".
    expect(a.post.coveredS).toBe(1.5);
    expect(a.post.activeS).toBeCloseTo(1.2, 5);
    const spread = a.post.loudestFrameDbfs - a.post.quietestFrameDbfs;
    expect(spread).toBeLessThan(3);
    expect(checkEvidence(a, RMS_TARGETS)).toMatchObject({ code: 'steady_signal' });
    expect(checkEvidence(a, targetsFor('rms', { minFrameSpreadDb: 0 }))).toBeNull();
  });

  it('holds a bucket with one word in it, and passes a bucket of speech with pauses', () => {
    const floor = whiteNoise(-65, 5, RATE, 8);
    const word = speechLike(-25, 0.35, RATE, 9);
    const lone = floor.map((v, i) => v + (i >= 2 * RATE && i < 2 * RATE + word.length ? word[i - 2 * RATE] : 0));
    const talk = speechLike(-25, 10, RATE, 10);
    const [speech, one] = station([talk.subarray(0, 5 * RATE), lone]);
    expect(checkEvidence(speech, RMS_TARGETS)).toBeNull();
    expect(speech.post.activeS).toBeGreaterThan(3);
    const held = checkEvidence(one, RMS_TARGETS);
    expect(one.post.activeS).toBeLessThan(1);
    expect(held).toMatchObject({ code: 'little_speech' });
  });
});
