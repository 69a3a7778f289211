/**
 * The EBU R 128 conformance signals, generated from their definitions in EBU Tech 3341
 * (loudness meters, Table 1 "minimum requirements") and EBU Tech 3342 (loudness range,
 * Table 1), with the readings and tolerances the documents expect. The kernel tests, the
 * relay's end-to-end test and the browser test send the same signals (a station sends the
 * left channel, metered as mono: see `monoValue`).
 *
 * Generated here: Tech 3341 cases 1-6, 9, 12 (loudness) and 15-19 (true peak), Tech 3342
 * cases 1-4. The others are audio files in the EBU loudness test set, listed with the
 * reason in NOT_GENERATED.
 *
 * Conventions of the documents: "stereo 1 kHz sine at X dBFS" is a sine of peak amplitude
 * 10^(X/20) on each channel, starting at phase 0, levels changing at exact sample
 * boundaries with the phase continuous; a stereo pair of such sines reads X LUFS.
 * Test-only code (allocates; not for audio paths).
 */

import { FrameMeter } from './meters.ts';
import { LoudnessMeter } from './loudness.ts';

/** M momentary, S short-term, I integrated (LUFS); LRA loudness range (LU); TP true peak (dBTP). */
export type EbuMeasure = 'M' | 'S' | 'I' | 'LRA' | 'TP';

export interface EbuExpectation {
  readonly measure: EbuMeasure;
  /**
   * When the reading is taken: 'end', at the end of the signal; 'max', the largest value
   * over the signal; 'every', every value (each 100 ms step) from `fromS` seconds on.
   */
  readonly when: 'end' | 'max' | 'every';
  /** Start of an 'every' check, seconds from the signal's start (0 otherwise). */
  readonly fromS: number;
  /** The document's expected reading for the case as defined (its channels and weights). */
  readonly value: number;
  /**
   * Expected reading of the left channel alone metered as a mono station (G = 1.0, no
   * dual-mono +3 dB): a loudness less 10·log10(2) = 3.01 LU where both channels are equal;
   * LRA and true peak unchanged. Null where the case has no mono reading (5 channels).
   */
  readonly monoValue: number | null;
  /** Accepted readings are value − below .. value + above (the document's tolerance). */
  readonly below: number;
  readonly above: number;
}

export interface EbuSignal {
  readonly sampleRate: number;
  /** Planar channels, all of the same length. */
  readonly channels: Float32Array[];
  /** BS.1770-4 channel weights Gi. */
  readonly channelWeights: readonly number[];
  readonly expectations: readonly EbuExpectation[];
}

export interface EbuCase {
  /** 'tech3341-1' … 'tech3342-4'. */
  readonly id: string;
  readonly document: 'EBU Tech 3341' | 'EBU Tech 3342';
  readonly number: number;
  readonly description: string;
  /** Rates the case is meant to run at: 48 kHz (the documents'), and 44.1 and 16 kHz where the signal does not depend on the rate. */
  readonly sampleRates: readonly number[];
  generate(sampleRate: number): EbuSignal;
}

/** Tech 3341 §2.9: ±0.1 LU for M, S and I. */
const LOUDNESS_TOLERANCE_LU = 0.1;
/** Tech 3342 §4: ±1 LU. */
const RANGE_TOLERANCE_LU = 1;
/** Tech 3341 Table 1: true peak +0.2 / −0.4 dB. */
const TRUE_PEAK_ABOVE_DB = 0.2;
const TRUE_PEAK_BELOW_DB = 0.4;
/** A stereo pair of equal channels reads this much louder than one of them (BS.1770-4 eq. 2, G = 1.0). */
export const DUAL_MONO_LU = 10 * Math.log10(2);

const TONE_HZ = 1000;
const LOUDNESS_RATES = [48000, 44100, 16000] as const;

/** [level dBFS, seconds] segments of one 1 kHz sine. */
type Segments = readonly (readonly [number, number])[];

/** One channel of 1 kHz sine whose peak level steps through `segments` (boundaries rounded to samples, phase continuous). */
export function toneSegments(sampleRate: number, segments: Segments, hz = TONE_HZ): Float32Array {
  const total = Math.round(segments.reduce((s, [, sec]) => s + sec, 0) * sampleRate);
  const out = new Float32Array(total);
  const w = (2 * Math.PI * hz) / sampleRate;
  let start = 0;
  let elapsed = 0;
  for (const [db, sec] of segments) {
    elapsed += sec;
    const end = Math.min(total, Math.round(elapsed * sampleRate));
    const a = Math.pow(10, db / 20);
    for (let i = start; i < end; i++) out[i] = a * Math.sin(w * i);
    start = end;
  }
  return out;
}

function repeat(times: number, ...segments: Segments): Segments {
  return Array.from({ length: times }, () => segments).flat();
}

function loudness(measure: 'M' | 'S' | 'I', value: number, when: EbuExpectation['when'], fromS = 0, stereo = true): EbuExpectation {
  return {
    measure,
    when,
    fromS,
    value,
    monoValue: stereo ? value - DUAL_MONO_LU : null,
    below: LOUDNESS_TOLERANCE_LU,
    above: LOUDNESS_TOLERANCE_LU,
  };
}

function stereoToneCase(number: number, description: string, segments: Segments, expectations: EbuExpectation[]): EbuCase {
  return {
    id: `tech3341-${number}`,
    document: 'EBU Tech 3341',
    number,
    description,
    sampleRates: LOUDNESS_RATES,
    generate(sampleRate) {
      const left = toneSegments(sampleRate, segments);
      return { sampleRate, channels: [left, left.slice()], channelWeights: [1, 1], expectations };
    },
  };
}

/**
 * Length of the raised-cosine fade at both ends of the true-peak signals. Switched on at
 * full level, a sine starts with a step, and a step's reconstruction overshoots (Gibbs):
 * with the Annex 2 filter the fs/8, 67.5° sine reads -5.3 dBTP over its first samples
 * against -6.03 in its steady state. The document states the signals by their steady state
 * (frequency, amplitude, phase), whose true peak is the expected value, and reference meters
 * read the EBU files at -6.0, so the ends are faded; the fade changes no sample in between.
 */
const TRUE_PEAK_FADE_S = 0.02;
const TRUE_PEAK_SECONDS = 1;

function truePeakCase(number: number, divisor: number, amplitude: number, phaseDeg: number, dbtp: number): EbuCase {
  const expectation: EbuExpectation = {
    measure: 'TP',
    when: 'max',
    fromS: 0,
    value: dbtp,
    monoValue: dbtp,
    below: TRUE_PEAK_BELOW_DB,
    above: TRUE_PEAK_ABOVE_DB,
  };
  return {
    id: `tech3341-${number}`,
    document: 'EBU Tech 3341',
    number,
    description: `stereo sine at fs/${divisor}, amplitude ${amplitude}, phase ${phaseDeg}°: true peak ${dbtp > 0 ? '+' : ''}${dbtp.toFixed(1)} dBTP`,
    sampleRates: [48000],
    generate(sampleRate) {
      const n = Math.round(TRUE_PEAK_SECONDS * sampleRate);
      const fade = Math.round(TRUE_PEAK_FADE_S * sampleRate);
      const x = new Float32Array(n);
      const phase = (phaseDeg * Math.PI) / 180;
      for (let i = 0; i < n; i++) {
        const edge = Math.min(i, n - 1 - i);
        const g = edge >= fade ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * edge) / fade);
        x[i] = g * amplitude * Math.sin((2 * Math.PI * i) / divisor + phase);
      }
      return { sampleRate, channels: [x, x.slice()], channelWeights: [1, 1], expectations: [expectation] };
    },
  };
}

function rangeCase(number: number, levels: readonly number[], lu: number): EbuCase {
  const segments: Segments = levels.map((db) => [db, 20] as const);
  const expectation: EbuExpectation = { measure: 'LRA', when: 'end', fromS: 0, value: lu, monoValue: lu, below: RANGE_TOLERANCE_LU, above: RANGE_TOLERANCE_LU };
  return {
    id: `tech3342-${number}`,
    document: 'EBU Tech 3342',
    number,
    description: `stereo 1 kHz sine, 20 s at each of ${levels.join(', ')} dBFS: LRA ${lu} LU`,
    sampleRates: LOUDNESS_RATES,
    generate(sampleRate) {
      const left = toneSegments(sampleRate, segments);
      return { sampleRate, channels: [left, left.slice()], channelWeights: [1, 1], expectations: [expectation] };
    },
  };
}

/** EBU Tech 3341 Table 1, the cases defined by their text. */
export const TECH_3341_CASES: readonly EbuCase[] = [
  stereoToneCase(1, 'stereo 1 kHz sine at -23 dBFS, 20 s: M, S, I = -23.0 LUFS', [[-23, 20]], [
    loudness('M', -23, 'every', 0.4),
    loudness('S', -23, 'every', 3),
    loudness('I', -23, 'end'),
  ]),
  stereoToneCase(2, 'stereo 1 kHz sine at -33 dBFS, 20 s: M, S, I = -33.0 LUFS', [[-33, 20]], [
    loudness('M', -33, 'every', 0.4),
    loudness('S', -33, 'every', 3),
    loudness('I', -33, 'end'),
  ]),
  stereoToneCase(3, 'stereo 1 kHz sine, 10 s at -36, 60 s at -23, 10 s at -36 dBFS: I = -23.0 LUFS (relative gate)', [[-36, 10], [-23, 60], [-36, 10]], [
    loudness('I', -23, 'end'),
  ]),
  stereoToneCase(
    4,
    'stereo 1 kHz sine, 10 s at -72, 10 s at -36, 60 s at -23, 10 s at -36, 10 s at -72 dBFS: I = -23.0 LUFS (both gates)',
    [[-72, 10], [-36, 10], [-23, 60], [-36, 10], [-72, 10]],
    [loudness('I', -23, 'end')],
  ),
  stereoToneCase(5, 'stereo 1 kHz sine, 20 s at -26, 20.1 s at -20, 20 s at -26 dBFS: I = -23.0 LUFS', [[-26, 20], [-20, 20.1], [-26, 20]], [
    loudness('I', -23, 'end'),
  ]),
  {
    id: 'tech3341-6',
    document: 'EBU Tech 3341',
    number: 6,
    description: '5.0 1 kHz sine, 20 s: L, R at -28, C at -24, Ls, Rs at -30 dBFS (surround weight 1.41): I = -23.0 LUFS',
    sampleRates: LOUDNESS_RATES,
    generate(sampleRate) {
      const lr = toneSegments(sampleRate, [[-28, 20]]);
      const c = toneSegments(sampleRate, [[-24, 20]]);
      const s = toneSegments(sampleRate, [[-30, 20]]);
      return {
        sampleRate,
        channels: [lr, lr.slice(), c, s, s.slice()],
        channelWeights: [1, 1, 1, 1.41, 1.41],
        expectations: [loudness('I', -23, 'end', 0, false)],
      };
    },
  },
  stereoToneCase(9, 'stereo 1 kHz sine, 1.34 s at -20 then 1.66 s at -30 dBFS, 5 times: S = -23.0 LUFS, constant after 3 s', repeat(5, [-20, 1.34], [-30, 1.66]), [
    loudness('S', -23, 'every', 3),
  ]),
  stereoToneCase(12, 'stereo 1 kHz sine, 0.18 s at -20 then 0.22 s at -30 dBFS, 25 times: M = -23.0 LUFS, constant after 1 s', repeat(25, [-20, 0.18], [-30, 0.22]), [
    loudness('M', -23, 'every', 1),
  ]),
  truePeakCase(15, 4, 0.5, 0, -6),
  truePeakCase(16, 4, 0.5, 45, -6),
  truePeakCase(17, 6, 0.5, 60, -6),
  truePeakCase(18, 8, 0.5, 67.5, -6),
  truePeakCase(19, 4, 1.41, 45, 3),
];

/** EBU Tech 3342 Table 1, the cases defined by their text. */
export const TECH_3342_CASES: readonly EbuCase[] = [
  rangeCase(1, [-20, -30], 10),
  rangeCase(2, [-20, -15], 5),
  rangeCase(3, [-40, -20], 20),
  rangeCase(4, [-50, -35, -20, -35, -50], 15),
];

export const EBU_CASES: readonly EbuCase[] = [...TECH_3341_CASES, ...TECH_3342_CASES];

/** The cases that are audio files of the EBU loudness test set, not generated here, and why. */
export const NOT_GENERATED: readonly { readonly id: string; readonly reason: string }[] = [
  { id: 'tech3341-7', reason: 'authentic programme (seq-3341-7_seq-3342-5), an audio file: I = -23.0 LUFS' },
  { id: 'tech3341-8', reason: 'authentic programme (seq-3341-2011-8_seq-3342-6), an audio file: I = -23.0 LUFS' },
  { id: 'tech3341-10', reason: '20 files of a tone at successive offsets (max S = -23.0 each); the document gives the files, not their timing' },
  { id: 'tech3341-11', reason: 'the 20 segments of case 10 in one file (max S -38 … -19 LUFS); an audio file' },
  { id: 'tech3341-13', reason: '20 files of a 400 ms tone at successive 20 ms offsets (max M = -23.0 each); files, and a finer hop than the 100 ms step' },
  { id: 'tech3341-14', reason: 'the 20 segments of case 13 in one file (max M -38 … -19 LUFS); an audio file' },
  { id: 'tech3341-20', reason: 'inter-sample peak test files (0.0 dBTP), built at 4 fs and downsampled at offset 0; the construction is not given in the text' },
  { id: 'tech3341-21', reason: 'as case 20, offset 1' },
  { id: 'tech3341-22', reason: 'as case 20, offset 2' },
  { id: 'tech3341-23', reason: 'as case 20, offset 3' },
  { id: 'tech3342-5', reason: 'authentic programme (shared with Tech 3341 case 7), an audio file: LRA = 5 LU' },
  { id: 'tech3342-6', reason: 'authentic programme (shared with Tech 3341 case 8), an audio file: LRA = 15 LU' },
];

export function ebuCase(id: string): EbuCase {
  const c = EBU_CASES.find((x) => x.id === id);
  if (!c) throw new RangeError(`no generated EBU case '${id}'; generated: ${EBU_CASES.map((x) => x.id).join(', ')}`);
  return c;
}

// ---------------------------------------------------------------------------------------
// Reading a meter the way the cases are stated.

/** What a meter reported over a signal: M and S at each 100 ms step (from the first full 400 ms block), and the final values. */
export interface EbuReadings {
  /** Seconds from the start at the end of each step that completed a 400 ms block. */
  readonly stepEndS: number[];
  readonly momentaryLufs: number[];
  readonly shortTermLufs: number[];
  readonly integratedLufs: number | null;
  readonly loudnessRangeLu: number | null;
  /** The largest true peak over the signal, dBTP. */
  readonly truePeakDbtp: number;
}

export interface EbuVerdict {
  readonly expected: number;
  /** The reading checked (for 'every', the one furthest from the expected value); null when the meter gave none. */
  readonly measured: number | null;
  readonly pass: boolean;
}

/** Checks one expectation against readings; `mono` uses monoValue (the case's left channel metered alone). */
export function verdict(e: EbuExpectation, r: EbuReadings, mono = false): EbuVerdict {
  const expected = mono ? e.monoValue : e.value;
  if (expected === null) throw new RangeError(`${e.measure} has no mono expectation in this case`);
  let measured: number | null = null;
  if (e.measure === 'I') measured = r.integratedLufs;
  else if (e.measure === 'LRA') measured = r.loudnessRangeLu;
  else if (e.measure === 'TP') measured = r.truePeakDbtp;
  else {
    const series = e.measure === 'M' ? r.momentaryLufs : r.shortTermLufs;
    if (e.when === 'end') measured = series.length > 0 ? series[series.length - 1] : null;
    for (let i = 0; i < series.length && e.when !== 'end'; i++) {
      if (r.stepEndS[i] < e.fromS - 1e-9) continue;
      const v = series[i];
      const worse = e.when === 'max' ? v > (measured ?? -Infinity) : Math.abs(v - expected) > Math.abs((measured ?? expected) - expected);
      if (measured === null || worse) measured = v;
    }
  }
  const pass = measured !== null && measured >= expected - e.below - 1e-9 && measured <= expected + e.above + 1e-9;
  return { expected, measured, pass };
}

/** Runs a signal through a LoudnessMeter (all its channels and weights) in blocks of `blockLength` samples. */
export function readLoudnessMeter(signal: EbuSignal, blockLength: number): EbuReadings {
  const meter = new LoudnessMeter(signal.sampleRate, { channels: signal.channels.length, channelWeights: signal.channelWeights });
  const r = collector(meter.loudness);
  const total = signal.channels[0].length;
  for (let i = 0; i < total; i += blockLength) {
    const n = Math.min(blockLength, total - i);
    meter.process(signal.channels.map((c) => c.subarray(i, i + n)), n);
  }
  return { ...r, integratedLufs: meter.loudness.integratedLufs(), loudnessRangeLu: meter.loudness.loudnessRangeLu(), truePeakDbtp: meter.truePeakDbtp };
}

/** Runs one channel (a mono station) through a FrameMeter in blocks of `blockLength` samples. */
export function readFrameMeter(channel: Float32Array, sampleRate: number, blockLength: number): EbuReadings {
  const meter = new FrameMeter(sampleRate);
  const r = collector(meter.loudness);
  let truePeak = -Infinity;
  for (let i = 0; i < channel.length; i += blockLength) {
    const n = Math.min(blockLength, channel.length - i);
    meter.process(channel.subarray(i, i + n), n);
    truePeak = Math.max(truePeak, meter.truePeakDbtp);
  }
  return { ...r, integratedLufs: meter.loudness.integratedLufs(), loudnessRangeLu: meter.loudness.loudnessRangeLu(), truePeakDbtp: truePeak };
}

function collector(loudness: FrameMeter['loudness']): Pick<EbuReadings, 'stepEndS' | 'momentaryLufs' | 'shortTermLufs'> {
  const stepEndS: number[] = [];
  const momentaryLufs: number[] = [];
  const shortTermLufs: number[] = [];
  // A block completes at every step from the 4th: block k (1-based) ends at step k + 3.
  loudness.onBlock = () => {
    stepEndS.push(((loudness.blocks + 3) * 100) / 1000);
    momentaryLufs.push(loudness.momentaryLufs);
    shortTermLufs.push(loudness.shortTermLufs);
  };
  return { stepEndS, momentaryLufs, shortTermLufs };
}
