/**
 * Cost of the DSP kernels per sample: FrameMeter.process and ProcessingChain.process (defaults
 * and every stage on), 20 ms blocks at 48 kHz over 10 s of noise.
 *
 *   node --import tsx bench/dsp-kernels.ts
 *
 * The relay's budget: 200 stations of 48 kHz mono on 2 cores, each with two FrameMeters
 * (PRE and POST taps) and one chain, i.e. 9.6 M samples/s through meter + meter + chain
 * per core-pair; the last lines print what share of one core that takes.
 */

import { defaultKnobs, type KnobValues, mergeKnobs } from '../protocol/knobs.ts';
import { ProcessingChain } from '../worklets/dsp/chain.ts';
import { FrameMeter } from '../worklets/dsp/meters.ts';
import { noise } from '../worklets/dsp/test-signals.ts';

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

const loud = noise(SAMPLE_RATE * SECONDS, 0.5, 1); // peaks at -6 dBFS: the compressor works on most samples
const quiet = noise(SAMPLE_RATE * SECONDS, 0.01, 2); // peaks at -40 dBFS: under the knee, gate open at -60 dBFS

const rows: [string, [number, number]][] = [];
const copyNs = nsPerSample(loud, () => {});
rows.push(['block copy only (baseline, included below)', copyNs]);
const meter = new FrameMeter(SAMPLE_RATE);
rows.push(['FrameMeter.process', nsPerSample(loud, (b, n) => meter.process(b, n), false)]);
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

console.log(`DSP kernels, ${BLOCK}-sample blocks at ${SAMPLE_RATE} Hz, ${SECONDS} s of noise, best and median of ${TRIALS}, Node ${process.version}`);
console.log(`${''.padEnd(52)} ${'best ns/sample'.padStart(14)} ${'median'.padStart(8)} ${'x realtime'.padStart(11)}`);
for (const [name, [best, median]] of rows) {
  console.log(`${name.padEnd(52)} ${best.toFixed(2).padStart(14)} ${median.toFixed(2).padStart(8)} ${(1e9 / best / SAMPLE_RATE).toFixed(0).padStart(11)}`);
}

const meterNs = rows[1][1][0];
const worstChainNs = rows[3][1][0] - copyNs[0];
const perStationNs = 2 * meterNs + worstChainNs;
const coreShare = (200 * SAMPLE_RATE * perStationNs) / 1e9;
console.log(
  `200 stations x (2 meters + chain with every stage on, -6 dBFS noise), best case: ${(coreShare * 100).toFixed(0)} % of one core ` +
    `(${(coreShare * 50).toFixed(0)} % of each of 2 cores)`,
);
