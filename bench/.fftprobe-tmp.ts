import { RealFft } from '../worklets/dsp/fft.ts';
import { noise } from '../worklets/dsp/test-signals.ts';
for (const n of [1024, 2048, 4096, 8192]) {
  const f = new RealFft(n); const x = noise(n, 0.5, 1); const o = new Float32Array(n / 2 + 1);
  for (let i = 0; i < 2000; i++) f.powerSpectrum(x, o);
  let best = 1e9;
  for (let t = 0; t < 10; t++) { const s = process.hrtime.bigint(); for (let i = 0; i < 500; i++) f.powerSpectrum(x, o); best = Math.min(best, Number(process.hrtime.bigint() - s) / 500 / 1000); }
  console.log(n, best.toFixed(2), 'us');
}
