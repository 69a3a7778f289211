/**
 * Snapshot entries for the optimizer's tests, two ways:
 * - `handEntry`: a bucket row written by hand, field by field (the policy's known answers);
 * - `meteredEntry`: a bucket row made as the relay makes it: the audio through the real knob
 *   chain, both taps metered per 20 ms frame by the relay's FrameMeter, the frame values
 *   aggregated, and the 400 ms blocks that end in the bucket gated by the relay's own
 *   gatedLoudness (relay/src/media/gated-loudness.ts).
 */
import { defaultKnobs, mergeKnobs, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';
import { INTEGRATED_LOUDNESS, LOUDNESS_RANGE, METRIC_NAMES, type MetricAggregate, type MetricName, type TapMetrics } from '../../../protocol/metrics.ts';
import { ProcessingChain } from '../../../worklets/dsp/chain.ts';
import { FrameMeter } from '../../../worklets/dsp/meters.ts';
import { gatedLoudness } from '../media/gated-loudness.ts';
import type { SnapshotEntry } from './api-types.ts';

export const T0 = Date.parse('2026-01-03T21:15:00.000Z');

export interface HandTap {
  /** Gated loudness of the bucket, LUFS (null: no block passed). */
  lufs: number | null;
  /** Active speech, s (default 3.5 with a level, 0 without). */
  activeS?: number;
  /** Frames (default 250, a full 5 s bucket). */
  frames?: number;
  /** Sample peak, dBFS (default level + 15: speech). */
  peakDbfs?: number;
  /** True peak, dBTP (default the sample peak + 0.3). */
  truePeakDbtp?: number;
  clippingRatio?: number;
  /** Loudest 20 ms frame, dBFS (default level + 6.5: speech). */
  loudestDbfs?: number;
  /** Quietest 20 ms frame, dBFS (default -65: a noise floor between words). */
  quietestDbfs?: number;
  /** Station's integrated loudness (default the bucket's). */
  stationLufs?: number | null;
  /** Leave the gated loudness and true peak out, as in a row stored before the relay measured them. */
  unmeasured?: boolean;
}

const agg = (count: number, min: number, max: number, avg = (min + max) / 2): MetricAggregate => ({ count, min, max, avg, last: avg });

export function handTap(t: HandTap): TapMetrics {
  const frames = t.frames ?? 250;
  const level = t.lufs;
  const peak = t.peakDbfs ?? (level === null ? -60 : level + 15);
  const loudest = t.loudestDbfs ?? (level === null ? -60 : level + 6.5);
  const quietest = t.quietestDbfs ?? -65;
  const m: Record<string, unknown> = {
    'pcm.rms_dbfs': agg(frames, quietest, loudest),
    'pcm.peak_dbfs': agg(frames, quietest + 3, peak),
    'pcm.clipping_ratio': agg(frames, 0, t.clippingRatio ?? 0, t.clippingRatio ?? 0),
    'pcm.dc_offset': agg(frames, 0, 0),
    'loudness.momentary_lufs': agg(frames, quietest, loudest),
    'loudness.short_term_lufs': agg(frames, quietest, level ?? quietest),
  };
  if (!t.unmeasured) {
    m['pcm.true_peak_dbtp'] = agg(frames, quietest + 3, t.truePeakDbtp ?? peak + 0.3);
    m[INTEGRATED_LOUDNESS] = { bucket: level, station: t.stationLufs === undefined ? level : t.stationLufs, active_s: t.activeS ?? (level === null ? 0 : 3.5) };
    m[LOUDNESS_RANGE] = { station: level === null ? null : 6 };
  }
  return m as TapMetrics;
}

export interface HandEntry {
  post: HandTap;
  /** Default: POST with the gain taken out (a linear chain). */
  pre?: HandTap;
  knobs?: KnobPatch;
  /** Bucket index from T0. */
  index?: number;
  configVersion?: number;
}

export function entryOf(index: number, knobs: KnobValues, pre: TapMetrics, post: TapMetrics, configVersion: number): SnapshotEntry {
  return {
    bucket_ts: new Date(T0 + index * 5000).toISOString(),
    bucket_ms: 5000,
    station_key: 'st_test',
    knobs_snapshot: knobs,
    metrics: { PRE: pre, POST: post },
    audio: { PRE: { endpoint: '/api/audio/segment?pre' }, POST: { endpoint: '/api/audio/segment?post' } },
    config_version: configVersion,
    last_knob_event_id: configVersion === 0 ? null : configVersion,
  };
}

export function handEntry(e: HandEntry): SnapshotEntry {
  const knobs = mergeKnobs(defaultKnobs(), e.knobs ?? {});
  const g = knobs['pcm.input_gain_db'];
  const p = e.post;
  const shift = (v: number | null | undefined): number | null | undefined => (v === null || v === undefined ? v : v - g);
  const pre: HandTap = e.pre ?? {
    ...p,
    lufs: shift(p.lufs) as number | null,
    stationLufs: shift(p.stationLufs),
    peakDbfs: shift(p.peakDbfs) ?? undefined,
    truePeakDbtp: shift(p.truePeakDbtp) ?? undefined,
    loudestDbfs: shift(p.loudestDbfs ?? (p.lufs === null ? undefined : p.lufs + 6.5)) ?? undefined,
    quietestDbfs: shift(p.quietestDbfs ?? -65) ?? undefined,
    clippingRatio: g >= 0 ? p.clippingRatio : 0,
  };
  return entryOf(e.index ?? 0, knobs, handTap(pre), handTap(p), e.configVersion ?? 0);
}

const FRAME_MS = 20;

function aggregate(values: number[]): MetricAggregate {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { count: values.length, min, max, avg: sum / values.length, last: values[values.length - 1] };
}

/** The per-frame values of the meter in METRIC_NAMES order. */
function frameValues(m: FrameMeter): Record<MetricName, number> {
  return {
    'pcm.rms_dbfs': m.rmsDbfs,
    'pcm.peak_dbfs': m.peakDbfs,
    'pcm.clipping_ratio': m.clippingRatio,
    'pcm.dc_offset': m.dcOffset,
    'loudness.momentary_lufs': m.momentaryLufs,
    'loudness.short_term_lufs': m.shortTermLufs,
    'pcm.true_peak_dbtp': m.truePeakDbtp,
  };
}

/**
 * One bucket of `source` (mono, whole 20 ms frames) through the chain with `knobs`, metered
 * as the relay meters it. `meters` carries the station's meters from bucket to bucket (so the
 * station's integrated loudness and the blocks that straddle a boundary are the relay's);
 * without it the bucket is the station's first.
 */
export function meteredEntry(
  index: number,
  source: Float32Array,
  sampleRate: number,
  knobs: KnobValues,
  configVersion: number,
  meters: { PRE: FrameMeter; POST: FrameMeter } = { PRE: new FrameMeter(sampleRate), POST: new FrameMeter(sampleRate) },
): SnapshotEntry {
  const frameSamples = (sampleRate * FRAME_MS) / 1000;
  const chain = new ProcessingChain(sampleRate);
  chain.setKnobs(knobs);
  const values = { PRE: METRIC_NAMES.map(() => [] as number[]), POST: METRIC_NAMES.map(() => [] as number[]) };
  const blocks = { PRE: [] as number[], POST: [] as number[] };
  for (const tap of ['PRE', 'POST'] as const) meters[tap].loudness.onBlock = (power) => blocks[tap].push(power);
  const frame = new Float32Array(frameSamples);
  for (let at = 0; at + frameSamples <= source.length; at += frameSamples) {
    frame.set(source.subarray(at, at + frameSamples));
    for (const tap of ['PRE', 'POST'] as const) {
      if (tap === 'POST') chain.process(frame, frameSamples);
      meters[tap].process(frame, frameSamples);
      const v = frameValues(meters[tap]);
      METRIC_NAMES.forEach((n, i) => values[tap][i].push(v[n]));
    }
  }
  const tapMetrics = (tap: 'PRE' | 'POST'): TapMetrics => {
    const m: Record<string, unknown> = Object.fromEntries(METRIC_NAMES.map((n, i) => [n, aggregate(values[tap][i])]));
    const integrator = meters[tap].loudness;
    integrator.onBlock = null;
    m[INTEGRATED_LOUDNESS] = gatedLoudness(Float64Array.from(blocks[tap]), blocks[tap].length, integrator.integratedLufs());
    m[LOUDNESS_RANGE] = { station: integrator.loudnessRangeLu() };
    return m as TapMetrics;
  };
  return entryOf(index, knobs, tapMetrics('PRE'), tapMetrics('POST'), configVersion);
}
