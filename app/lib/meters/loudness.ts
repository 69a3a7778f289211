/**
 * EBU R128 loudness as the capture page shows it: the capture worklet's reading
 * (worklets/processors/meter-block.ts) as typed values, the EBU Mode scales of EBU Tech 3341
 * and the two reference levels of EBU R128. Plain values and arithmetic, no DOM.
 */
import { METER } from '../../../worklets/processors/meter-block.ts';

/** EBU R128's target for programme loudness, LUFS (0 LU on the relative scales). */
export const TARGET_LUFS = -23;
/** EBU R128's maximum permitted true peak of a programme, dBTP. */
export const TRUE_PEAK_CEILING_DBTP = -1;

/** The two scales an EBU Mode meter offers (EBU Tech 3341), in LU relative to TARGET_LUFS. */
export const EBU_SCALES = {
  /** "EBU +9": -18 to +9 LU (-41 to -14 LUFS), for programme near the target. */
  '+9': { minLu: -18, maxLu: 9, tickLu: 3 },
  /** "EBU +18": -36 to +18 LU (-59 to -5 LUFS), for programme far from it (a field microphone). */
  '+18': { minLu: -36, maxLu: 18, tickLu: 6 },
} as const;
export type EbuScaleName = keyof typeof EBU_SCALES;

export interface LoudnessReadout {
  /** Momentary loudness (400 ms), LUFS. */
  momentaryLufs: number;
  /** Short-term loudness (3 s), LUFS. */
  shortTermLufs: number;
  /** Integrated loudness since the reset, LUFS; null while no block has passed the gates. */
  integratedLufs: number | null;
  /** Loudness range since the reset, LU; null while no short-term value has passed the gates. */
  loudnessRangeLu: number | null;
  /** True peak of the latest reading (about 20 ms), dBTP. */
  truePeakDbtp: number;
  /** Largest true peak since the reset, dBTP. */
  maxTruePeakDbtp: number;
  /** Largest momentary loudness since the reset, LUFS. */
  maxMomentaryLufs: number;
  /** Largest short-term loudness since the reset, LUFS. */
  maxShortTermLufs: number;
  /** Seconds of audio measured since the reset (the integration time of I and LRA). */
  integrationS: number;
  /** Resets the worklet has applied. */
  resets: number;
}

export const SILENT_READOUT: Readonly<LoudnessReadout> = {
  momentaryLufs: -120,
  shortTermLufs: -120,
  integratedLufs: null,
  loudnessRangeLu: null,
  truePeakDbtp: -120,
  maxTruePeakDbtp: -120,
  maxMomentaryLufs: -120,
  maxShortTermLufs: -120,
  integrationS: 0,
  resets: 0,
};

/** The loudness fields of one reading (METER layout) at `sampleRate`; NaN ("none yet") becomes null. */
export function loudnessReadout(r: Float64Array, sampleRate: number): LoudnessReadout {
  const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);
  return {
    momentaryLufs: r[METER.momentaryLufs],
    shortTermLufs: r[METER.shortTermLufs],
    integratedLufs: orNull(r[METER.integratedLufs]),
    loudnessRangeLu: orNull(r[METER.loudnessRangeLu]),
    truePeakDbtp: r[METER.truePeakDbtp],
    maxTruePeakDbtp: r[METER.maxTruePeakDbtp],
    maxMomentaryLufs: r[METER.maxMomentaryLufs],
    maxShortTermLufs: r[METER.maxShortTermLufs],
    integrationS: r[METER.loudnessSamples] / sampleRate,
    resets: r[METER.loudnessResets],
  };
}

/** Where `lufs` sits on `scale`, 0..100 % (clamped). */
export function scalePercent(lufs: number, scale: EbuScaleName): number {
  const { minLu, maxLu } = EBU_SCALES[scale];
  const p = ((lufs - TARGET_LUFS - minLu) / (maxLu - minLu)) * 100;
  return p < 0 ? 0 : p > 100 ? 100 : p;
}

/** The scale's labelled marks, LUFS, lowest first (the target among them). */
export function scaleTicksLufs(scale: EbuScaleName): number[] {
  const { minLu, maxLu, tickLu } = EBU_SCALES[scale];
  const ticks: number[] = [];
  for (let lu = minLu; lu <= maxLu; lu += tickLu) ticks.push(TARGET_LUFS + lu);
  return ticks;
}

/** A level readout with the 0.1 resolution EBU Tech 3341 asks for: "—" for none, "-∞" at or below -90. */
export function formatLevel(v: number | null): string {
  if (v === null) return '—';
  if (v <= -90) return '-∞';
  return v.toFixed(1);
}

/** The relative reading, LU against TARGET_LUFS, signed: "+1.4", "-0.3". */
export function formatRelativeLu(lufs: number | null): string {
  if (lufs === null || lufs <= -90) return '';
  // Rounded first, so -0.04 LU reads +0.0 rather than -0.0.
  const lu = Math.round((lufs - TARGET_LUFS) * 10) / 10 || 0;
  return `${lu >= 0 ? '+' : ''}${lu.toFixed(1)}`;
}
