/**
 * The bucket aggregator on its own: metrics and audio per bucket from both taps, finalized
 * by the station's clock at end + grace, and late audio counted and kept out.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { BucketAggregator } from './bucket-aggregator.ts';
import type { BucketRecord, IngestCounters, StationSpec } from './messages.ts';
import { flattenChunks } from './sample-chunks.ts';
import { SegmentBuffers } from './segment-buffers.ts';
import type { Frame } from './stage.ts';

const RATE = 8000;
const B = 5000;
const spec: StationSpec = {
  id: 1, traceId: 't', stationKey: 's', codec: 'pcm16', sampleRate: RATE, queueFrames: 48, jitterAllowanceMs: 60,
  bucketMs: B, graceMs: 1000, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1',
};
const counters: IngestCounters = { frames_received: 0, bytes_received: 0, frames_dropped: 0, decode_errors: 0, frames_concealed: 0, resyncs: 0, late_frames: 0, frames_out_of_order: 0 };

function aggregator(): { a: BucketAggregator; records: BucketRecord[] } {
  const records: BucketRecord[] = [];
  const a: BucketAggregator = new BucketAggregator(spec, new SegmentBuffers(), () => ({ ...counters, late_frames: a.lateFrames }), (r) => records.push(r));
  return { a, records };
}

/** One frame through both taps: PRE meters -12 and value v, POST meters -6 and value 2v. */
function frame(a: BucketAggregator, bucketTs: number, offset: number, v: number): void {
  const f: Frame = { samples: new Float32Array(160).fill(v), length: 160, bucketTs, offset, arrivalMs: 0, concealed: false };
  a.pre.consume(f, Float64Array.of(-12, -10, 0, 0, -12));
  f.samples.fill(2 * v);
  a.post.consume(f, Float64Array.of(-6, -4, 0, 0, -6));
}

describe('BucketAggregator', () => {
  it('keeps each bucket\'s metrics and audio, and hands it on once the clock passes its end plus the grace', () => {
    const { a, records } = aggregator();
    a.enterBucket(B, defaultKnobs(), 3, 9);
    for (let k = 100; k < 250; k++) frame(a, B, k * 160, 0.25); // from 2 s into the bucket
    a.enterBucket(2 * B, defaultKnobs(), 3, 9);
    frame(a, 2 * B, 0, 0.25);
    a.finalizeComplete(2 * B + 999);
    expect(records).toHaveLength(0);
    a.finalizeComplete(2 * B + 1000);
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r).toMatchObject({ bucketTs: B, sampleStart: 16000, samples: 40000, configVersion: 3, lastKnobEventId: 9 });
    expect(r.metrics.PRE['pcm.rms_dbfs']).toEqual({ count: 150, min: -12, max: -12, avg: -12, last: -12 });
    expect(r.metrics.POST['pcm.rms_dbfs'].avg).toBe(-6);
    const pre = flattenChunks(r.pre, r.samples);
    const post = flattenChunks(r.post, r.samples);
    expect([pre[0], pre[15999], pre[16000], pre[39999]]).toEqual([0, 0, 8192, 8192]);
    expect(post[16000]).toBe(16384);
    // Only the chunks that hold audio were allocated: the first 2 s are missing, not zero-filled.
    expect(r.pre.chunks.filter((c) => c !== null)).toHaveLength(6);
  });

  it('counts audio for a bucket already finalized as late and keeps it out', () => {
    const { a, records } = aggregator();
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 0, 0.1);
    a.finalizeComplete(2 * B + 1000);
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 160, 0.1);
    a.finalizeComplete(Infinity);
    expect(records).toHaveLength(1);
    expect(a.lateFrames).toBe(1);
    expect(a.idle).toBe(true);
  });

  it('finalizes everything with an infinite clock, and nothing for a bucket without audio', () => {
    const { a, records } = aggregator();
    a.enterBucket(B, defaultKnobs(), 0, null);
    a.enterBucket(2 * B, defaultKnobs(), 0, null);
    frame(a, 2 * B, 0, 0.1);
    a.finalizeComplete(Infinity);
    expect(records.map((r) => r.bucketTs)).toEqual([2 * B]);
  });
});
