/**
 * What the optimizer knows about one (bucket, station) entry after step 3 of seed 000 §3,
 * read from the snapshot alone: the knobs in force and, per tap, the relay's meters and
 * gated loudness of that bucket. No audio is fetched: the bucket row carries everything the
 * decision (policy.ts), the evidence rules (evidence.ts) and the verification (verify.ts)
 * use; docs/OPTIMIZER.md says why the segments would add nothing.
 * Pure: an entry in, a typed reading out.
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import { INTEGRATED_LOUDNESS, type Tap, type TapMetrics } from '../../../protocol/metrics.ts';
import type { SnapshotEntry } from './api-types.ts';

/** The relay meters every 20 ms frame at both taps (README "Meters"): a metric's `count` is in frames. */
export const METER_FRAME_MS = 20;

/** One tap of one bucket, from the row. */
export interface TapReading {
  /** Frames metered in the bucket (`pcm.rms_dbfs`.count). A full 5 s bucket has 250. */
  frames: number;
  /** Audio the bucket holds, s: frames × 20 ms. */
  coveredS: number;
  /**
   * BS.1770-4 gated loudness of the bucket's own 400 ms blocks, LUFS (`loudness.integrated_lufs`.bucket);
   * null when no block passes the gates, and when the row has no gated loudness (`measured` false).
   */
  bucketLufs: number | null;
  /** The station's integrated loudness as of the bucket's end, LUFS; null before a block passed. */
  stationLufs: number | null;
  /** Seconds of the bucket's blocks that pass the absolute gate and the station's relative gate (`active_s`). */
  activeS: number;
  /** Largest sample of the bucket, dBFS (`pcm.peak_dbfs`.max; over 0 at POST, metered before the 16-bit conversion). */
  samplePeakDbfs: number;
  /** True peak of the bucket, dBTP (`pcm.true_peak_dbtp`.max); the sample peak when the row has none. */
  truePeakDbtp: number;
  /** Share of samples at or beyond full scale over the bucket, 0..1 (`pcm.clipping_ratio`.avg: frames are equal length). */
  clippingRatio: number;
  /** RMS of the loudest 20 ms frame, dBFS (`pcm.rms_dbfs`.max). */
  loudestFrameDbfs: number;
  /** RMS of the quietest 20 ms frame, dBFS (`pcm.rms_dbfs`.min; -120 for digital silence). */
  quietestFrameDbfs: number;
  /** False when the row lacks the gated loudness or the true peak (a bucket stored before the relay measured them). */
  measured: boolean;
}

export interface Analysis {
  stationKey: string;
  /** Bucket start, epoch ms. */
  bucketMs: number;
  bucketTs: string;
  configVersion: number;
  /** `config_version` of the station's previous bucket; null when it is not known (the first bucket seen). */
  previousConfigVersion: number | null;
  knobs: KnobValues;
  pre: TapReading;
  post: TapReading;
  /**
   * The loudness change the chain made, dB: POST over PRE gated loudness of the same
   * bucket. Both taps meter the same samples, so for a linear chain this is its gain
   * exactly, whatever the talker did (the relative gate is scale-invariant); null when
   * either tap has no passing block.
   */
  chainGainDb: number | null;
}

function tapReading(m: TapMetrics): TapReading {
  const rms = m['pcm.rms_dbfs'];
  const gated = m[INTEGRATED_LOUDNESS];
  const truePeak = m['pcm.true_peak_dbtp'];
  const samplePeak = m['pcm.peak_dbfs'].max;
  return {
    frames: rms.count,
    coveredS: (rms.count * METER_FRAME_MS) / 1000,
    bucketLufs: gated?.bucket ?? null,
    stationLufs: gated?.station ?? null,
    activeS: gated?.active_s ?? 0,
    samplePeakDbfs: samplePeak,
    truePeakDbtp: Math.max(truePeak?.max ?? samplePeak, samplePeak),
    clippingRatio: m['pcm.clipping_ratio'].avg,
    loudestFrameDbfs: rms.max,
    quietestFrameDbfs: rms.min,
    measured: gated !== undefined && truePeak !== undefined,
  };
}

/** Reads one snapshot entry; `previousConfigVersion` is that of the station's bucket before it, when known. */
export function analyze(entry: SnapshotEntry, previousConfigVersion: number | null = null): Analysis {
  const read = (tap: Tap): TapReading => tapReading(entry.metrics[tap]);
  const pre = read('PRE');
  const post = read('POST');
  return {
    stationKey: entry.station_key,
    bucketMs: Date.parse(entry.bucket_ts),
    bucketTs: entry.bucket_ts,
    configVersion: entry.config_version,
    previousConfigVersion,
    knobs: entry.knobs_snapshot,
    pre,
    post,
    chainGainDb: pre.bucketLufs === null || post.bucketLufs === null ? null : post.bucketLufs - pre.bucketLufs,
  };
}
