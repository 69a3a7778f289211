/**
 * The bucket aggregator on its own: metrics and audio per bucket from both taps, finalized
 * by the station's clock at end + grace, and late audio counted and kept out.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { LoudnessIntegrator } from '../../../worklets/dsp/loudness.ts';
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

function aggregator(s: StationSpec = spec): { a: BucketAggregator; records: BucketRecord[]; loudness: [LoudnessIntegrator, LoudnessIntegrator] } {
  const records: BucketRecord[] = [];
  const loudness: [LoudnessIntegrator, LoudnessIntegrator] = [new LoudnessIntegrator(), new LoudnessIntegrator()];
  const a: BucketAggregator = new BucketAggregator(s, new SegmentBuffers(), () => ({ ...counters, late_frames: a.lateFrames }), (r) => records.push(r), loudness);
  return { a, records, loudness };
}

/** One frame through both taps: PRE meters -12 and value v, POST meters -6 and value 2v. */
function frame(a: BucketAggregator, bucketTs: number, offset: number, v: number): void {
  const f: Frame = { samples: new Float32Array(160).fill(v), length: 160, bucketTs, offset, arrivalMs: 0, concealed: false };
  a.pre.consume(f, Float64Array.of(-12, -10, 0, 0, -12, -13, -9.5));
  f.samples.fill(2 * v);
  a.post.consume(f, Float64Array.of(-6, -4, 0, 0, -6, -7, -3.5));
}

/** BS.1770-4 eq. 2, mono: the mean square that reads `lufs`. */
const power = (lufs: number): number => 10 ** ((lufs + 0.691) / 10);
/** `n` 100 ms steps (800 samples at 8 kHz) at `lufs` into an integrator. */
function steps(l: LoudnessIntegrator, n: number, lufs: number): void {
  for (let k = 0; k < n; k++) l.addStep(power(lufs) * 800, 800);
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
    expect(r.metrics.PRE['loudness.short_term_lufs']).toEqual({ count: 150, min: -13, max: -13, avg: -13, last: -13 });
    expect(r.metrics.POST['pcm.true_peak_dbtp']!.max).toBe(-3.5);
    expect(r.loudnessBlocks).toBeNull(); // a live bucket
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

describe('BucketAggregator loudness', () => {
  it('gates each bucket over the blocks that end in it, and reads the station\'s loudness as of the bucket\'s end', () => {
    const { a, records, loudness } = aggregator();
    const [pre, post] = loudness;
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 0, 0.1);
    steps(pre, 20, -20); // 17 blocks of 400 ms, all at -20 LUFS
    steps(post, 20, -26);
    a.enterBucket(2 * B, defaultKnobs(), 0, null);
    frame(a, 2 * B, 0, 0.1);
    steps(pre, 20, -50); // 20 more blocks, the first 3 spanning both levels
    a.finalizeComplete(Infinity);
    expect(records.map((r) => r.bucketTs)).toEqual([B, 2 * B]);
    const first = records[0].metrics;
    // A constant level integrates to itself (BS.1770-4 §2.8), whatever the gates.
    expect(first.PRE['loudness.integrated_lufs']!.bucket).toBeCloseTo(-20, 6);
    expect(first.PRE['loudness.integrated_lufs']!.station).toBeCloseTo(-20, 6);
    expect(first.PRE['loudness.integrated_lufs']!.active_s).toBe(1.7);
    expect(first.POST['loudness.integrated_lufs']!.bucket).toBeCloseTo(-26, 6);
    // Loudness range needs 3 s of short-term values: 2 s is not enough.
    expect(first.PRE['loudness.range_lu']).toEqual({ station: null });
    const second = records[1].metrics.PRE['loudness.integrated_lufs']!;
    // The -50 LUFS blocks are more than 10 LU below the station (-20 with the earlier ones
    // counted: -30 is the gate), so the bucket is active only for its blocks above -30: the
    // 3 that still hold -20 audio (their mean squares are at least a quarter of -20's: -26).
    expect(second.station).not.toBeCloseTo(-20, 1); // read at the second bucket's end, not the first's
    expect(second.active_s).toBe(0.3);
    expect(second.bucket).not.toBeNull();
    // POST had no blocks in the second bucket: nothing to gate, and no time active.
    expect(records[1].metrics.POST['loudness.integrated_lufs']).toEqual({ bucket: null, station: -26, active_s: 0 });
  });

  it('reads silence as null loudness, 0 s active, and no range, which JSON keeps as null', () => {
    const { a, records, loudness } = aggregator();
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 0, 0);
    steps(loudness[0], 40, -120);
    a.finalizeComplete(Infinity);
    const json = JSON.parse(JSON.stringify(records[0].metrics.PRE)) as Record<string, unknown>;
    expect(json['loudness.integrated_lufs']).toEqual({ bucket: null, station: null, active_s: 0 });
    expect(json['loudness.range_lu']).toEqual({ station: null });
  });

  it('hands a recorded run\'s block powers on with its bucket, for a merge with another part', () => {
    const { a, records, loudness } = aggregator({ ...spec, recorded: { part: 7 } });
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 0, 0.1);
    steps(loudness[0], 6, -23);
    a.finalizeComplete(Infinity);
    const blocks = records[0].loudnessBlocks!;
    expect(blocks.PRE.length).toBe(3);
    expect(blocks.PRE[2]).toBeCloseTo(power(-23), 12);
    expect(blocks.POST.length).toBe(0);
  });

  it('keeps at most one block per 100 ms of the bucket (and one spare), however many come', () => {
    const { a, records, loudness } = aggregator();
    a.enterBucket(B, defaultKnobs(), 0, null);
    frame(a, B, 0, 0.1);
    steps(loudness[0], 200, -23);
    a.finalizeComplete(Infinity);
    expect(records[0].metrics.PRE['loudness.integrated_lufs']!.active_s).toBe(5.1);
  });
});
