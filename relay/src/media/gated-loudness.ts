/**
 * The gated loudness of a bucket (ITU-R BS.1770-4 §2.8), from the mean squares of its 400 ms
 * blocks: the bucket's own value, and its active time against the station's loudness. A
 * bucket's loudness is never a mean of dB values: gating is not linear, so blocks are kept
 * and gated together, including when parts of a recorded bucket are merged.
 */
import type { GatedLoudness } from '../../../protocol/metrics.ts';
import { gateBlocks, STEP_MS } from '../../../worklets/dsp/loudness.ts';

/**
 * `loudness.integrated_lufs` from a bucket's block powers: the blocks gated on their own
 * (BS.1770-4: -70 LUFS, then -10 LU below what passed), and the blocks that pass the
 * absolute gate and the relative gate of the station's integrated loudness, 0.1 s each
 * (the 100 ms hop). Used for a merged recorded bucket too (recorded-merge.ts).
 */
export function gatedLoudness(powers: Float64Array, count: number, stationLufs: number | null): GatedLoudness {
  const own = gateBlocks(powers, count).lufs;
  // With no station loudness no block passed the absolute gate, these included.
  const passed = stationLufs === null ? 0 : gateBlocks(powers, count, stationLufs).passed;
  return {
    bucket: own === null ? null : round(own),
    station: stationLufs === null ? null : round(stationLufs),
    active_s: (passed * STEP_MS) / 1000,
  };
}

/** Six decimals, as the bucket's aggregates (bucket-accumulator.ts). */
function round(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.round(v * 1e6) / 1e6;
}
