/**
 * The knob chain and its schedule on their own: a change applies from the first sample of
 * its bucket, never for a bucket already started, and the latest request wins.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs, mergeKnobs } from '../../../protocol/knobs.ts';
import { KnobStage } from './knob-stage.ts';
import type { Frame } from './stage.ts';

const B = 5000;
const frame = (value: number): Frame => ({ samples: new Float32Array(160).fill(value), length: 160, bucketTs: 0, offset: 0, arrivalMs: 0, concealed: false });
const gain = (db: number) => mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': db });

describe('KnobStage', () => {
  it('applies a change from the first sample of its bucket', () => {
    const k = new KnobStage(8000, defaultKnobs(), 0, null);
    expect(k.schedule({ applyAtBucketTs: 2 * B, knobs: gain(20), configVersion: 1, eventId: 7 }, B)).toBeNull();
    k.enterBucket(B);
    const f = frame(0.01);
    k.process(f);
    expect(f.samples[0]).toBeCloseTo(0.01, 6);
    k.enterBucket(2 * B);
    const g = frame(0.01);
    k.process(g);
    expect(g.samples[0]).toBeCloseTo(0.1, 5);
    expect(k.inForce).toMatchObject({ configVersion: 1, lastKnobEventId: 7 });
  });

  it('refuses a change for the bucket in progress or an earlier one', () => {
    const k = new KnobStage(8000, defaultKnobs(), 0, null);
    expect(k.schedule({ applyAtBucketTs: B, knobs: gain(6), configVersion: 1, eventId: 1 }, B)).toBe('bucket_started');
    expect(k.schedule({ applyAtBucketTs: 0, knobs: gain(6), configVersion: 1, eventId: 1 }, B)).toBe('bucket_started');
    expect(k.stats()).toMatchObject({ pending_changes: 0 });
  });

  it('lets a change for an earlier or the same bucket replace those pending after it', () => {
    const k = new KnobStage(8000, defaultKnobs(), 0, null);
    k.schedule({ applyAtBucketTs: 9 * B, knobs: gain(-40), configVersion: 1, eventId: 1 }, B);
    k.schedule({ applyAtBucketTs: 3 * B, knobs: gain(-20), configVersion: 2, eventId: 2 }, B);
    k.schedule({ applyAtBucketTs: 3 * B, knobs: gain(6), configVersion: 3, eventId: 3 }, B);
    expect(k.stats()).toMatchObject({ pending_changes: 1 });
    for (let b = 2; b <= 10; b++) k.enterBucket(b * B);
    expect(k.inForce).toMatchObject({ configVersion: 3, lastKnobEventId: 3 });
    expect(k.inForce.knobs['pcm.input_gain_db']).toBe(6);
  });
});
