/**
 * The capture path's cost in Chromium, measured where it runs (Debian's headless Chromium,
 * the built app served by a real relay on 127.0.0.1):
 *
 *   - the capture worklet (worklets/processors/capture-processor.ts, as built, with its full
 *     metering: RMS, sample peak, and EBU R128 momentary, short-term and integrated
 *     loudness, loudness range and true peak): time per 128-sample render quantum at 48 kHz,
 *     from OfflineAudioContext renders of the same 180 s source through it and through an
 *     empty processor, alternated over ROUNDS; the difference over the quanta is the
 *     worklet's own cost (goal: under 2 % of the 2.67 ms quantum, 53 us);
 *   - the Opus encoder (opus-recorder's libopus worker, as the encoder worker drives it:
 *     48 kHz mono, 20 ms frames, one per Ogg page, 32 kbps): 180 s of speech-like audio
 *     pushed as fast as it takes, at complexity 8 (the app's) and 10, twice each; times real time.
 *
 * Run: npm run bench:capture   (the machine should be otherwise idle)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { startTestRelay } from '../relay/src/testing/harness.ts';
import { launchChromium } from '../e2e/support/chromium.ts';
import { METER, METER_VALUES } from '../worklets/processors/meter-block.ts';

const SECONDS = 180;
const ROUNDS = 7;
/** The worklet's shared meter reading (meter-block.ts): METER_VALUES Float64 values. */
const METER_BYTES = METER_VALUES * Float64Array.BYTES_PER_ELEMENT;

function builtFile(sub: string, prefix: string): string {
  const dir = join(BUILD_DIR, '_app', 'immutable', sub);
  const name = readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.js'));
  if (name === undefined) throw new Error(`no ${prefix}*.js in ${dir}`);
  return `/_app/immutable/${sub}/${name}`;
}

ensureAppBuilt();
const processorUrl = builtFile('workers', 'capture-processor');
const encoderUrl = builtFile('assets', 'encoderWorker.min');
const t = await startTestRelay({ appDir: BUILD_DIR });
const browser = await launchChromium();
try {
  const { page } = browser;
  await page.goto(`${t.httpUrl}/`);
  const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
  const version = browser.context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));

  const worklet = await page.evaluate(
    async ({ processorUrl, seconds, rounds, meterBytes }) => {
      const rate = 48000;
      const length = rate * seconds;
      const empty = URL.createObjectURL(
        new Blob([`registerProcessor('empty', class extends AudioWorkletProcessor { process() { return true; } });`], { type: 'text/javascript' }),
      );
      /** The capture worklet's last published reading (meter-block.ts layout). */
      let lastReading: number[] = [];
      async function render(kind: 'capture' | 'empty'): Promise<number> {
        const ctx = new OfflineAudioContext(1, length, rate);
        await ctx.audioWorklet.addModule(kind === 'capture' ? processorUrl : empty);
        // Noise, so the meters do real work (its loudness passes the gates, so I and LRA are
        // computed at every 100 ms step); the ring holds the whole render (no overrun path).
        const buf = ctx.createBuffer(1, length, rate);
        const x = buf.getChannelData(0);
        let s = 1;
        for (let i = 0; i < length; i++) {
          s = (s * 1103515245 + 12345) % 2147483648;
          x[i] = (s / 2147483648 - 0.5) * 0.5;
        }
        const src = ctx.createBufferSource();
        src.buffer = buf;
        const meterValues = new SharedArrayBuffer(meterBytes);
        const options =
          kind === 'capture'
            ? {
                numberOfInputs: 1,
                numberOfOutputs: 1,
                processorOptions: {
                  ring: { control: new SharedArrayBuffer(16), data: new SharedArrayBuffer((length + 1) * 4) },
                  meters: { seq: new SharedArrayBuffer(4), values: meterValues },
                },
              }
            : { numberOfInputs: 1, numberOfOutputs: 1 };
        const node = new AudioWorkletNode(ctx, kind === 'capture' ? 'tapwire-capture' : 'empty', options);
        src.connect(node).connect(ctx.destination);
        src.start();
        const t0 = performance.now();
        await ctx.startRendering();
        const ms = performance.now() - t0;
        if (kind === 'capture') lastReading = Array.from(new Float64Array(meterValues));
        return ms;
      }
      const capture: number[] = [];
      const base: number[] = [];
      await render('capture'); // warm-up (JIT)
      await render('empty');
      for (let r = 0; r < rounds; r++) {
        capture.push(await render('capture'));
        base.push(await render('empty'));
      }
      return { capture, base, quanta: length / 128, lastReading };
    },
    { processorUrl, seconds: SECONDS, rounds: ROUNDS, meterBytes: METER_BYTES },
  );

  const encoder = await page.evaluate(
    async ({ encoderUrl, seconds }) => {
      const rate = 48000;
      const frame = 960;
      const frames = (rate * seconds) / frame;
      // Speech-like: a 150 Hz buzz through two formant resonances, syllable-rate envelope.
      const audio = new Float32Array(rate * seconds);
      let y1 = 0, y2 = 0, z1 = 0, z2 = 0;
      for (let i = 0; i < audio.length; i++) {
        const buzz = (i % 320) < 8 ? 1 : 0;
        const y = buzz + 1.8 * Math.cos((2 * Math.PI * 700) / rate) * 0.97 * y1 - 0.94 * y2;
        y2 = y1;
        y1 = y;
        const z = y + 1.8 * Math.cos((2 * Math.PI * 1200) / rate) * 0.96 * z1 - 0.92 * z2;
        z2 = z1;
        z1 = z;
        const env = 0.5 + 0.5 * Math.sin((2 * Math.PI * 4 * i) / rate);
        audio[i] = 0.01 * z * env;
      }
      async function run(complexity: number): Promise<{ ms: number; pages: number; bytes: number }> {
        const w = new Worker(encoderUrl);
        await new Promise<void>((resolve) => {
          w.onmessage = (e) => e.data.message === 'ready' && resolve();
          w.postMessage({ command: 'init', encoderSampleRate: rate, originalSampleRate: rate, numberOfChannels: 1, encoderApplication: 2049, encoderFrameSize: 20, encoderBitRate: 32000, encoderComplexity: complexity, maxFramesPerPage: 1, streamPages: true });
        });
        let pages = 0;
        let bytes = 0;
        const t0 = performance.now();
        const done = new Promise<void>((resolve) => {
          w.onmessage = (e) => {
            if (e.data.message === 'page') {
              pages++;
              bytes += e.data.page.length;
            } else if (e.data.message === 'done') resolve();
          };
        });
        for (let f = 0; f < frames; f++) w.postMessage({ command: 'encode', buffers: [audio.slice(f * frame, (f + 1) * frame)] });
        w.postMessage({ command: 'done' });
        await done;
        const ms = performance.now() - t0;
        w.terminate();
        return { ms, pages, bytes };
      }
      await run(8); // warm-up
      return { c8: await run(8), c10: await run(10), c8b: await run(8), c10b: await run(10) };
    },
    { encoderUrl, seconds: SECONDS },
  );

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const quantumUs = (128 / 48000) * 1e6;
  const us = (ms: number): number => (ms / worklet.quanta) * 1000;
  const pct = (u: number): string => `${((u / quantumUs) * 100).toFixed(2)} %`;
  // The difference is the worklet's own cost; the whole render per quantum (source, graph,
  // worklet) is an upper bound that render-to-render noise cannot shrink.
  const own = us(median(worklet.capture) - median(worklet.base));
  const ownBest = us(Math.min(...worklet.capture) - Math.min(...worklet.base));
  const whole = us(median(worklet.capture));
  console.log(`Chromium ${version}, crossOriginIsolated ${isolated}, ${SECONDS} s at 48 kHz, ${ROUNDS} rounds`);
  console.log(
    `capture worklet: ${own.toFixed(2)} us per quantum over the empty processor (median; from the fastest renders ${ownBest.toFixed(2)} us) = ${pct(own)} of the ${(quantumUs / 1000).toFixed(2)} ms quantum (goal < 2 %); whole render with it ${whole.toFixed(2)} us = ${pct(whole)}`,
  );
  const r = worklet.lastReading;
  const db = (v: number): string => (Number.isNaN(v) ? 'none' : v.toFixed(2));
  console.log(
    `  R128 metering was live: the last reading of a render has M ${db(r[METER.momentaryLufs])}, S ${db(r[METER.shortTermLufs])}, I ${db(r[METER.integratedLufs])} LUFS, LRA ${db(r[METER.loudnessRangeLu])} LU, true peak max ${db(r[METER.maxTruePeakDbtp])} dBTP after ${(r[METER.loudnessSamples] / 48000).toFixed(1)} s`,
  );
  console.log(`  renders, ms: capture ${worklet.capture.map((x) => x.toFixed(0)).join(' ')} | empty ${worklet.base.map((x) => x.toFixed(0)).join(' ')}`);
  for (const [name, r] of [['complexity 8', encoder.c8], ['complexity 8 (again)', encoder.c8b], ['complexity 10', encoder.c10], ['complexity 10 (again)', encoder.c10b]] as const) {
    console.log(`opus encoder ${name}: ${((SECONDS * 1000) / r.ms).toFixed(1)}x real time (${r.ms.toFixed(0)} ms for ${SECONDS} s, ${r.pages} pages, ${((r.bytes * 8) / SECONDS / 1000).toFixed(1)} kbit/s with Ogg framing)`);
  }
} finally {
  await browser.close();
  await t.close();
}
