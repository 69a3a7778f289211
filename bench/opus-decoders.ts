/**
 * Which Opus decoder should the relay use? Measures the installed candidates side by side in
 * one process on the same packets:
 *
 *   - speed: seconds of audio decoded per CPU second (x real time), best and median of ROUNDS,
 *     at 48/16/8 kHz decoder rates, including the int16 -> float conversion the relay needs;
 *   - agreement: largest sample difference from @evan/opus native at 48 kHz;
 *   - robustness: an invalid packet (RFC 6716 §3.2.5: code 3 with a frame count of 0), 1000
 *     random-byte packets, an empty packet, and a 120 ms packet; whether the decoder's state
 *     survives (output after the invalid packet bit-identical to a clean decoder's).
 *
 * Source: 60 s of speechLike() at -20 dBFS, 48 kHz mono, encoded once with @evan/opus
 * (VOIP, 32 kbps, 20 ms frames).
 *
 * Run: node --import tsx bench/opus-decoders.ts   (CPU figures are noisy on a shared machine)
 */

import { createRequire } from 'node:module';
import { Decoder as EvanDecoder, Encoder as EvanEncoder } from '@evan/opus';
import OpusScript from 'opusscript';
import { OpusDecoder } from 'opus-decoder';
import { speechLike, toInt16, mulberry32 } from '../relay/src/audio/signals.ts';

const SECONDS = 60;
const FRAME = 960; // 20 ms at 48 kHz
const ROUNDS = 5;
const RATES = [48000, 16000, 8000] as const;
type Rate = (typeof RATES)[number];

/** One decoder instance behind a common face: decode into out, return samples written. */
interface Dec {
  decode(packet: Uint8Array, out: Float32Array): number;
  close(): void;
}

interface Candidate {
  name: string;
  /** True when creating the decoder needs an await (decoding itself is synchronous for all). */
  asyncInit: boolean;
  create(rate: Rate): Promise<Dec>;
}

function int16BytesToFloat(b: Uint8Array, out: Float32Array): number {
  const n = b.length >> 1;
  for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = (((b[j] | (b[j + 1] << 8)) << 16) >> 16) / 32768;
  return n;
}

interface RawEvan {
  decode(buf: ArrayBufferView): Uint8Array;
  drop?(): void;
}
const require = createRequire(import.meta.url);
const evanWasm = require('@evan/opus/wasm/index.js') as { Decoder: new (o: { channels: number; sample_rate: number }) => RawEvan };

const candidates: Candidate[] = [
  {
    name: '@evan/opus native',
    asyncInit: false,
    async create(rate) {
      const d = new EvanDecoder({ channels: 1, sample_rate: rate });
      return { decode: (p, out) => int16BytesToFloat(d.decode(p), out), close: () => {} };
    },
  },
  {
    name: '@evan/opus wasm',
    asyncInit: false,
    async create(rate) {
      const d = new evanWasm.Decoder({ channels: 1, sample_rate: rate });
      return { decode: (p, out) => int16BytesToFloat(d.decode(p), out), close: () => d.drop?.() };
    },
  },
  {
    name: 'opusscript (wasm)',
    asyncInit: false,
    async create(rate) {
      const d = new OpusScript(rate, 1, OpusScript.Application.VOIP);
      return { decode: (p, out) => int16BytesToFloat(d.decode(Buffer.from(p.buffer, p.byteOffset, p.length)), out), close: () => d.delete() };
    },
  },
  {
    name: 'opus-decoder (wasm)',
    asyncInit: true,
    async create(rate) {
      const d = new OpusDecoder({ channels: 1, sampleRate: rate });
      await d.ready;
      return {
        decode(p, out) {
          const r = d.decodeFrame(p);
          // It does not throw: it logs, returns 0 samples and lists the error in errors[].
          if (r.errors.length > 0) throw new Error(`(reported in errors[]) ${String(r.errors[0].message)}`);
          out.set(r.channelData[0]);
          return r.samplesDecoded;
        },
        close: () => d.free(),
      };
    },
  },
];

// ---- source and packets -------------------------------------------------------------------

const pcm = toInt16(speechLike(-20, SECONDS, 48000, 7));
const encoder = new EvanEncoder({ channels: 1, sample_rate: 48000, application: 'voip' });
encoder.bitrate = 32000;
const packets: Uint8Array[] = [];
for (let i = 0; i + FRAME <= pcm.length; i += FRAME) packets.push(encoder.encode(pcm.subarray(i, i + FRAME)));
const bytes = packets.reduce((s, p) => s + p.length, 0);
const long = new EvanEncoder({ channels: 1, sample_rate: 48000, application: 'voip' });
long.bitrate = 32000;
const packet120ms = long.encode(pcm.subarray(48000, 48000 + 5760));

// An invalid packet by RFC 6716 §3.2.5: TOC 0xFB (config 31, mono, code 3), then a frame count
// byte with M = 0, which "MUST NOT" be zero.
const INVALID = Uint8Array.of(0xfb, 0x00);

// Silence the noisy console.error of opus-decoder while probing bad packets.
function quiet<T>(f: () => T): T {
  const original = console.error;
  console.error = () => {};
  try {
    return f();
  } finally {
    console.error = original;
  }
}

const out = new Float32Array(5760);

function cpuSeconds(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e6;
}

// ---- speed ------------------------------------------------------------------------------------

const speed = new Map<string, number[]>(); // `${name}@${rate}` -> x real time per round
const decoded48 = new Map<string, Float32Array>();
for (let round = 0; round < ROUNDS; round++) {
  for (const rate of RATES) {
    for (const c of candidates) {
      const dec = await c.create(rate);
      const all = round === 0 && rate === 48000 ? new Float32Array(packets.length * FRAME) : null;
      let samples = 0;
      const cpu = cpuSeconds(() => {
        for (const p of packets) {
          const n = dec.decode(p, out);
          if (all !== null) all.set(out.subarray(0, n), samples);
          samples += n;
        }
      });
      dec.close();
      if (samples !== packets.length * FRAME * (rate / 48000)) throw new Error(`${c.name} decoded ${samples} samples at ${rate} Hz`);
      if (all !== null) decoded48.set(c.name, all);
      const key = `${c.name}@${rate}`;
      speed.set(key, [...(speed.get(key) ?? []), SECONDS / cpu]);
    }
  }
}

// ---- robustness ----------------------------------------------------------------------------

function outcome(f: () => number): string {
  try {
    return `returns ${quiet(f)} samples`;
  } catch (e) {
    return `throws "${(e as Error).message}"`;
  }
}

async function robustness(c: Candidate): Promise<Record<string, string>> {
  const r: Record<string, string> = {};
  const dec = await c.create(48000);
  const clean = await c.create(48000);
  // Warm both on the first 100 packets, feed one the invalid packet, compare the next 100.
  for (let i = 0; i < 100; i++) {
    dec.decode(packets[i], out);
    clean.decode(packets[i], out);
  }
  r.invalid = outcome(() => dec.decode(INVALID, out));
  const a = new Float32Array(FRAME);
  let identical = true;
  for (let i = 100; i < 200; i++) {
    const n = dec.decode(packets[i], a);
    clean.decode(packets[i], out);
    for (let k = 0; k < n; k++) if (a[k] !== out[k]) identical = false;
  }
  r['state after invalid'] = identical ? 'intact (next 100 packets bit-identical)' : 'CHANGED';

  const rand = mulberry32(99);
  let thrown = 0;
  let decodedGarbage = 0;
  for (let i = 0; i < 1000; i++) {
    const len = 1 + Math.floor(rand() * 400);
    const p = new Uint8Array(len);
    for (let k = 0; k < len; k++) p[k] = Math.floor(rand() * 256);
    try {
      quiet(() => dec.decode(p, out));
      decodedGarbage++;
    } catch {
      thrown++;
    }
  }
  let after = 0;
  for (let i = 200; i < 210; i++) after += dec.decode(packets[i], out);
  r['1000 random packets'] = `${thrown} rejected, ${decodedGarbage} decoded as audio; next 10 good packets gave ${after} samples`;
  r.empty = outcome(() => dec.decode(new Uint8Array(0), out));
  r['120 ms packet'] = outcome(() => dec.decode(packet120ms, out));
  dec.close();
  clean.close();
  return r;
}

// ---- report ------------------------------------------------------------------------------

function fmt(xs: number[]): string {
  const s = [...xs].sort((p, q) => q - p);
  return `${s[0].toFixed(0).padStart(5)}x (median ${s[Math.floor(s.length / 2)].toFixed(0)}x)`;
}

console.log(`Node ${process.version}, ${process.arch}-${process.platform}`);
console.log(`source: ${SECONDS} s speechLike(-20 dBFS) 48 kHz mono -> ${packets.length} packets, ${((bytes * 8) / SECONDS / 1000).toFixed(1)} kbit/s (@evan/opus VOIP 32k 20 ms)`);
console.log(`speed: seconds of audio per CPU second, best of ${ROUNDS} rounds, int16->float included\n`);
console.log(`${'decoder'.padEnd(22)}${RATES.map((r) => `${r / 1000} kHz`.padEnd(26)).join('')}init`);
for (const c of candidates) {
  console.log(`${c.name.padEnd(22)}${RATES.map((r) => fmt(speed.get(`${c.name}@${r}`) ?? [0]).padEnd(26)).join('')}${c.asyncInit ? 'async (await ready)' : 'sync'}`);
}

const ref = decoded48.get('@evan/opus native');
console.log('\nagreement with @evan/opus native at 48 kHz (max |difference|, full scale 1.0):');
for (const c of candidates) {
  const x = decoded48.get(c.name);
  let max = 0;
  if (x !== undefined && ref !== undefined) for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - ref[i]));
  console.log(`  ${c.name.padEnd(22)}${max.toExponential(2)}`);
}

console.log('\nbad input at 48 kHz:');
for (const c of candidates) {
  console.log(`  ${c.name}`);
  for (const [k, v] of Object.entries(await robustness(c))) console.log(`    ${k.padEnd(22)}${v}`);
}
