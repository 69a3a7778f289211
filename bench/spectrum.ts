/**
 * Cost of the WS-3 band spectrum (worklets/dsp/spectrum.ts): microseconds per
 * BandSpectrum.compute() and nanoseconds per sample of push() at 48 kHz, default FFT size
 * (4096) and 1/6-octave bands, and what share of one core a relay spends on it for 100 and
 * 200 stations with two taps (PRE and POST) each, computed 5 or 10 times a second.
 *
 *   node --import tsx bench/spectrum.ts
 *
 * push() runs on every sample whatever the rate; compute() at the spectrum rate
 * (seed 003 Q3: slower than the meters).
 */

import { BandSpectrum } from '../worklets/dsp/spectrum.ts';
import { noise } from '../worklets/dsp/test-signals.ts';

const SAMPLE_RATE = 48000;
const BLOCK = 960; // 20 ms
const TRIALS = 15;
const COMPUTES_PER_TRIAL = 400;
const SECONDS = 10;

/** Best and median of TRIALS timings of `pass`, each divided by `units`, in ns per unit. */
function time(pass: () => void, units: number): [number, number] {
  for (let i = 0; i < 3; i++) pass(); // warm up: let the JIT optimize before timing
  const trials: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const start = process.hrtime.bigint();
    pass();
    trials.push(Number(process.hrtime.bigint() - start) / units);
  }
  trials.sort((a, b) => a - b);
  return [trials[0], trials[trials.length >> 1]];
}

const source = noise(SAMPLE_RATE * SECONDS, 0.5, 1);
const rows: [string, string, [number, number]][] = [];

for (const [label, rate, fftSize] of [
  ['48 kHz, default (4096)', 48000, undefined],
  ['48 kHz, 8192', 48000, 8192],
  ['48 kHz, 2048', 48000, 2048],
  ['16 kHz, default (1024)', 16000, undefined],
] as [string, number, number | undefined][]) {
  const s = new BandSpectrum(rate, { fftSize });
  s.push(source, source.length);
  rows.push([`compute(), ${label}, ${s.bandsHz.length} bands`, 'us/call', time(() => {
    for (let i = 0; i < COMPUTES_PER_TRIAL; i++) s.compute();
  }, COMPUTES_PER_TRIAL * 1000)]);
}

const pusher = new BandSpectrum(SAMPLE_RATE);
const blocks = source.length / BLOCK;
const pushNs = time(() => {
  for (let b = 0; b < blocks; b++) pusher.push(source.subarray(b * BLOCK, (b + 1) * BLOCK), BLOCK);
}, source.length);
rows.push([`push(), ${BLOCK}-sample blocks, 48 kHz`, 'ns/sample', pushNs]);

console.log(`BandSpectrum, Node ${process.version}, best and median of ${TRIALS} trials`);
console.log(`${''.padEnd(52)} ${'unit'.padStart(10)} ${'best'.padStart(8)} ${'median'.padStart(8)}`);
for (const [name, unit, [best, median]] of rows) {
  console.log(`${name.padEnd(52)} ${unit.padStart(10)} ${best.toFixed(2).padStart(8)} ${median.toFixed(2).padStart(8)}`);
}

const computeUs = rows[0][2][0];
const pushNsPerSample = pushNs[0];
console.log('');
console.log('Share of one core (best case), 48 kHz, default size; push() on every sample of each tap:');
for (const stations of [100, 200]) {
  for (const hz of [5, 10]) {
    const taps = stations * 2;
    const computeShare = (taps * hz * computeUs) / 1e6;
    const pushShare = (taps * SAMPLE_RATE * pushNsPerSample) / 1e9;
    console.log(
      `  ${String(stations).padStart(3)} stations x 2 taps at ${String(hz).padStart(2)} Hz: compute ${(computeShare * 100).toFixed(1).padStart(5)} %` +
        ` + push ${(pushShare * 100).toFixed(1).padStart(4)} % = ${((computeShare + pushShare) * 100).toFixed(1).padStart(5)} % of one core`,
    );
  }
}
