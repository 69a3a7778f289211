/**
 * What the optimizer knows about one (bucket, station) entry after step 3 of seed 000 §3:
 * the relay's metrics, the knobs in force, and what level.ts measured in the PRE and POST
 * segments. Pure: the segments are passed in as samples.
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import type { MetricAggregate, MetricName, Tap } from '../../../protocol/metrics.ts';
import type { SnapshotEntry } from './api-types.ts';
import { chainGainDb, speechLevel } from './level.ts';
import type { TapMeasurement } from './policy.ts';

export interface TapAnalysis extends TapMeasurement {
  /** Active 20 ms frames in the segment (level.ts). */
  activeFrames: number;
}

export interface Analysis {
  stationKey: string;
  /** Bucket start, epoch ms. */
  bucketMs: number;
  bucketTs: string;
  configVersion: number;
  knobs: KnobValues;
  pre: TapAnalysis;
  post: TapAnalysis;
  /** POST over PRE energy on PRE's active frames, dB: the gain the chain applied; null without speech. */
  chainGainDb: number | null;
}

/** A metric of the entry; undefined when the relay sent none (an older relay, say). */
function metric(entry: SnapshotEntry, tap: Tap, name: MetricName): MetricAggregate | undefined {
  return entry.metrics[tap][name];
}

function tapAnalysis(entry: SnapshotEntry, tap: Tap, samples: Float32Array, sampleRate: number): TapAnalysis {
  const level = speechLevel(samples, sampleRate);
  // The relay meters POST before the 16-bit conversion, so its peak can read over 0 dBFS
  // where the WAV stops at full scale: take the larger of the two.
  const meteredPeak = metric(entry, tap, 'pcm.peak_dbfs')?.max ?? -120;
  return {
    levelDbfs: level.levelDbfs,
    peakDbfs: Math.max(level.peakDbfs ?? -120, meteredPeak),
    clippingRatio: metric(entry, tap, 'pcm.clipping_ratio')?.avg ?? 0,
    loudestFrameDbfs: level.loudestFrameDbfs,
    activeFrames: level.activeFrames,
  };
}

/** Analyses one entry from its PRE and POST segments (mono, the same rate, both starting at bucket_ts). */
export function analyze(entry: SnapshotEntry, pre: Float32Array, post: Float32Array, sampleRate: number): Analysis {
  return {
    stationKey: entry.station_key,
    bucketMs: Date.parse(entry.bucket_ts),
    bucketTs: entry.bucket_ts,
    configVersion: entry.config_version,
    knobs: entry.knobs_snapshot,
    pre: tapAnalysis(entry, 'PRE', pre, sampleRate),
    post: tapAnalysis(entry, 'POST', post, sampleRate),
    chainGainDb: chainGainDb(pre, post, sampleRate),
  };
}
