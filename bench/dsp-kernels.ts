/**
 * Cost of the DSP kernels per sample: FrameMeter.process (with its EBU R 128 state: 100 ms
 * steps into the loudness integrator and the block's true peak), ProcessingChain.process
 * (defaults and every stage on), and the R 128 kernels alone (TruePeakMeter, LoudnessMeter
 * mono and stereo), 20 ms blocks at 48 kHz over 10 s of noise. The meters also run over 10 s
 * of speech (relay/src/audio/signals.ts speechLike: syllables, pauses), what most stations
 * carry: TruePeakMeter skips the points its bound rules out, which on noise is almost none
 * and on speech most. "full 4x" rows run the same meter computing every point (a copy kept
 * here for comparison only), alone and in place of FrameMeter's own.
 *
 *   node --import tsx bench/dsp-kernels.ts
 *
 * The relay's media workers transfer ArrayBuffers to the main thread, which detaches them,
 * and from the first detach on V8 checks every typed-array access for a detached buffer. The
 * benchmark detaches one before it starts, so that it measures that code and not, depending
 * on whether module loading happened to detach one, sometimes the unchecked kind (about 20 %
 * faster on the meters).
 *
 * The relay's budget: 200 stations of 48 kHz mono on 2 cores, each with two FrameMeters
 * (PRE and POST taps) and one chain, i.e. 9.6 M samples/s through meter + meter + chain
 * per core-pair; the last lines print what share of one core that takes.
 */

import { defaultKnobs, type KnobValues, mergeKnobs } from '../protocol/knobs.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { ProcessingChain } from '../worklets/dsp/chain.ts';
import { LoudnessMeter } from '../worklets/dsp/loudness.ts';
import { FrameMeter } from '../worklets/dsp/meters.ts';
import { noise } from '../worklets/dsp/test-signals.ts';
import { TRUE_PEAK_PHASE_0, TRUE_PEAK_PHASE_1, TruePeakMeter } from '../worklets/dsp/true-peak.ts';

{
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
}

const SAMPLE_RATE = 48000;
const BLOCK = 960; // 20 ms
const SECONDS = 10;
const TRIALS = 15;

const ALL_ON: Partial<KnobValues> = {
  'hpf.enabled': true,
  'gate.enabled': true,
  'compressor.enabled': true,
  'compressor.makeup_db': 6,
  'limiter.enabled': true,
};

/**
 * Runs `step` over every block of `source` (copied into a work buffer first, as the relay
 * processes its own copy), TRIALS times after a warm-up; returns ns per sample of the
 * fastest and the median trial. The fastest is the kernel's cost; the median shows how much
 * a shared machine's other load inflated it.
 */
function nsPerSample(source: Float32Array, step: (buf: Float32Array, n: number) => void, copy = true): [number, number] {
  const work = new Float32Array(BLOCK);
  const blocks = source.length / BLOCK;
  const pass = () => {
    for (let b = 0; b < blocks; b++) {
      const block = source.subarray(b * BLOCK, (b + 1) * BLOCK);
      if (copy) {
        work.set(block);
        step(work, BLOCK);
      } else step(block, BLOCK);
    }
  };
  for (let i = 0; i < 3; i++) pass(); // warm up: let the JIT optimize before timing
  const trials: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const start = process.hrtime.bigint();
    pass();
    trials.push(Number(process.hrtime.bigint() - start) / source.length);
  }
  trials.sort((a, b) => a - b);
  return [trials[0], trials[trials.length >> 1]];
}

function chainWith(patch: Partial<KnobValues>): ProcessingChain {
  const c = new ProcessingChain(SAMPLE_RATE);
  c.setKnobs(mergeKnobs(defaultKnobs(), patch));
  return c;
}

/**
 * TruePeakMeter at 4x computing every point, as it did before it screened runs: the same
 * arithmetic (so the same readings), without the bound. For comparison only.
 */
class FullTruePeakMeter {
  blockPeak = 0;
  maxPeak = 0;
  private readonly work = new Float64Array(11 + 1024);
  private readonly halves = new Float64Array(24);

  constructor() {
    const [P0, P1] = [TRUE_PEAK_PHASE_0, TRUE_PEAK_PHASE_1];
    for (let k = 0; k < 6; k++) {
      this.halves[k] = P0[k] + P0[11 - k];
      this.halves[6 + k] = P0[k] - P0[11 - k];
      this.halves[12 + k] = P1[k] + P1[11 - k];
      this.halves[18 + k] = P1[k] - P1[11 - k];
    }
  }

  reset(): void {
    this.work.fill(0);
    this.blockPeak = this.maxPeak = 0;
  }

  process(x: Float32Array, length: number): void {
    const w = this.work;
    const c = this.halves;
    const A0 = c[0], A1 = c[1], A2 = c[2], A3 = c[3], A4 = c[4], A5 = c[5];
    const D0 = c[6], D1 = c[7], D2 = c[8], D3 = c[9], D4 = c[10], D5 = c[11];
    const B0 = c[12], B1 = c[13], B2 = c[14], B3 = c[15], B4 = c[16], B5 = c[17];
    const E0 = c[18], E1 = c[19], E2 = c[20], E3 = c[21], E4 = c[22], E5 = c[23];
    let peak2 = 0;
    for (let from = 0; from < length; from += 1024) {
      const n = Math.min(1024, length - from);
      for (let i = 0; i < n; i++) w[11 + i] = x[from + i];
      for (let i = 0; i < n; i++) {
        const x0 = w[i + 11];
        const s0 = x0 + w[i], s1 = w[i + 10] + w[i + 1], s2 = w[i + 9] + w[i + 2];
        const s3 = w[i + 8] + w[i + 3], s4 = w[i + 7] + w[i + 4], s5 = w[i + 6] + w[i + 5];
        const d0 = x0 - w[i], d1 = w[i + 10] - w[i + 1], d2 = w[i + 9] - w[i + 2];
        const d3 = w[i + 8] - w[i + 3], d4 = w[i + 7] - w[i + 4], d5 = w[i + 6] - w[i + 5];
        const p03 =
          Math.abs(A0 * s0 + A1 * s1 + A2 * s2 + A3 * s3 + A4 * s4 + A5 * s5) +
          Math.abs(D0 * d0 + D1 * d1 + D2 * d2 + D3 * d3 + D4 * d4 + D5 * d5);
        const p12 =
          Math.abs(B0 * s0 + B1 * s1 + B2 * s2 + B3 * s3 + B4 * s4 + B5 * s5) +
          Math.abs(E0 * d0 + E1 * d1 + E2 * d2 + E3 * d3 + E4 * d4 + E5 * d5);
        const a = 2 * Math.abs(x0);
        if (p03 > peak2) peak2 = p03;
        if (p12 > peak2) peak2 = p12;
        if (a > peak2) peak2 = a;
      }
      w.copyWithin(0, n, n + 11);
    }
    this.blockPeak = 0.5 * peak2;
    if (this.blockPeak > this.maxPeak) this.maxPeak = this.blockPeak;
  }
}

/** A FrameMeter whose true peak is the full computation's (it has no option for that: its field is replaced). */
function frameMeterWithFullTruePeak(): FrameMeter {
  const meter = new FrameMeter(SAMPLE_RATE);
  const fields = meter as unknown as { truePeak?: unknown };
  if (!(fields.truePeak instanceof TruePeakMeter)) throw new Error('FrameMeter no longer keeps its TruePeakMeter in `truePeak`: update the benchmark');
  fields.truePeak = new FullTruePeakMeter();
  return meter;
}

const loud = noise(SAMPLE_RATE * SECONDS, 0.5, 1); // peaks at -6 dBFS: the compressor works on most samples
const quiet = noise(SAMPLE_RATE * SECONDS, 0.01, 2); // peaks at -40 dBFS: under the knee, gate open at -60 dBFS
const speech = speechLike(-23, SECONDS, SAMPLE_RATE, 1); // -23 dBFS RMS over phrases and pauses, peaks about 18 dB higher

const rows: [string, [number, number]][] = [];
const copyNs = nsPerSample(loud, () => {});
rows.push(['block copy only (baseline, included below)', copyNs]);
const meter = new FrameMeter(SAMPLE_RATE);
rows.push(['FrameMeter.process', nsPerSample(loud, (b, n) => meter.process(b, n), false)]);
const speechMeter = new FrameMeter(SAMPLE_RATE);
rows.push(['FrameMeter.process, speech', nsPerSample(speech, (b, n) => speechMeter.process(b, n), false)]);
const defaults = chainWith({});
rows.push(['ProcessingChain.process, defaults', nsPerSample(loud, (b, n) => defaults.process(b, n))]);
const allLoud = chainWith(ALL_ON);
rows.push(['ProcessingChain.process, all stages, -6 dBFS noise', nsPerSample(loud, (b, n) => allLoud.process(b, n))]);
const allQuiet = chainWith(ALL_ON);
rows.push(['ProcessingChain.process, all stages, -40 dBFS noise', nsPerSample(quiet, (b, n) => allQuiet.process(b, n))]);
for (const [name, patch] of [
  ['  high-pass only', { 'hpf.enabled': true }],
  ['  gate only', { 'gate.enabled': true }],
  ['  compressor only, -6 dBFS noise', { 'compressor.enabled': true }],
  ['  limiter only (-1 dBFS), -6 dBFS noise +12 dB', { 'limiter.enabled': true, 'pcm.input_gain_db': 12 }],
] as [string, Partial<KnobValues>][]) {
  const c = chainWith(patch);
  rows.push([name, nsPerSample(loud, (b, n) => c.process(b, n))]);
}

const truePeak = new TruePeakMeter(SAMPLE_RATE);
rows.push(['TruePeakMeter.process (4x, BS.1770-4 Annex 2)', nsPerSample(loud, (b, n) => truePeak.process(b, n), false)]);
const speechTruePeak = new TruePeakMeter(SAMPLE_RATE);
rows.push(['TruePeakMeter.process, speech', nsPerSample(speech, (b, n) => speechTruePeak.process(b, n), false)]);
const loudnessMono = new LoudnessMeter(SAMPLE_RATE);
const monoChannels = [loud];
rows.push(['LoudnessMeter.process, mono', nsPerSample(loud, (b, n) => ((monoChannels[0] = b), loudnessMono.process(monoChannels, n)), false)]);
const loudnessStereo = new LoudnessMeter(SAMPLE_RATE, { channels: 2 });
const stereoChannels = [loud, loud];
rows.push([
  'LoudnessMeter.process, stereo (per frame)',
  nsPerSample(loud, (b, n) => ((stereoChannels[0] = stereoChannels[1] = b), loudnessStereo.process(stereoChannels, n)), false),
]);

// Last, as they make FrameMeter's call to its true-peak meter see a second class.
const fullTruePeak = new FullTruePeakMeter();
rows.push(['  full 4x: TruePeakMeter', nsPerSample(loud, (b, n) => fullTruePeak.process(b, n), false)]);
const fullSpeechTruePeak = new FullTruePeakMeter();
rows.push(['  full 4x: TruePeakMeter, speech', nsPerSample(speech, (b, n) => fullSpeechTruePeak.process(b, n), false)]);
const fullMeter = frameMeterWithFullTruePeak();
rows.push(['  full 4x: FrameMeter', nsPerSample(loud, (b, n) => fullMeter.process(b, n), false)]);
const fullSpeechMeter = frameMeterWithFullTruePeak();
rows.push(['  full 4x: FrameMeter, speech', nsPerSample(speech, (b, n) => fullSpeechMeter.process(b, n), false)]);

console.log(
  `DSP kernels, ${BLOCK}-sample blocks at ${SAMPLE_RATE} Hz, ${SECONDS} s of noise (or speech where named), best and median of ${TRIALS}, ` +
    `Node ${process.version}, typed-array accesses checked for detached buffers`,
);
console.log(`${''.padEnd(52)} ${'best ns/sample'.padStart(14)} ${'median'.padStart(8)} ${'x realtime'.padStart(11)}`);
for (const [name, [best, median]] of rows) {
  console.log(`${name.padEnd(52)} ${best.toFixed(2).padStart(14)} ${median.toFixed(2).padStart(8)} ${(1e9 / best / SAMPLE_RATE).toFixed(0).padStart(11)}`);
}

const rowNs = (name: string) => (rows.find(([n]) => n === name) as [string, [number, number]])[1][0];
const meterNs = rowNs('FrameMeter.process');
const worstChainNs = rowNs('ProcessingChain.process, all stages, -6 dBFS noise') - copyNs[0];
const perStationNs = 2 * meterNs + worstChainNs;
const coreShare = (200 * SAMPLE_RATE * perStationNs) / 1e9;
console.log(
  `200 stations x (2 meters + chain with every stage on, -6 dBFS noise), best case: ${(coreShare * 100).toFixed(0)} % of one core ` +
    `(${(coreShare * 50).toFixed(0)} % of each of 2 cores)`,
);

// Per second of 48 kHz audio, best case: what one meter costs the relay (FrameMeter, the
// tap) and a general meter (LoudnessMeter, every R 128 reading).
const perSecondUs = (ns: number) => ((ns * SAMPLE_RATE) / 1000).toFixed(0);
console.log('kernel cost per second of 48 kHz audio with full R128 metering (best case):');
for (const name of [
  'FrameMeter.process',
  'FrameMeter.process, speech',
  'TruePeakMeter.process (4x, BS.1770-4 Annex 2)',
  'TruePeakMeter.process, speech',
  'LoudnessMeter.process, mono',
  'LoudnessMeter.process, stereo (per frame)',
]) {
  console.log(`  ${name.padEnd(50)} ${perSecondUs(rowNs(name)).padStart(6)} us`);
}
