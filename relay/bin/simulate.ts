/**
 * `npm run simulate -- --stations N --file F.wav --codec opus|pcm16|pcmu|pcma`
 *
 * Streams a WAV file (or, without --file, a generated speech-like signal) from N simulated
 * field testers to a relay, paced in real time, and prints what the relay says back.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { INGEST_CODECS, type IngestCodec } from '../../protocol/ingest.ts';
import { speechLike } from '../src/audio/signals.ts';
import { readWav } from '../src/audio/wav.ts';
import { encodeAudio, runStations, SimulatedStation } from '../src/sim/simulator.ts';

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '1' },
    file: { type: 'string' },
    codec: { type: 'string', default: 'opus' },
    url: { type: 'string', default: process.env.TAPWIRE_URL ?? 'ws://127.0.0.1:8080/ws/ingest' },
    duration: { type: 'string' },
    trace: { type: 'string' },
    'one-trace': { type: 'boolean', default: false },
    label: { type: 'string', default: 'sim' },
    speed: { type: 'string', default: '1' },
    level: { type: 'string', default: '-20' },
    token: { type: 'string', default: process.env.TAPWIRE_TOKEN },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run simulate -- [--stations N] [--file F.wav] [--codec ${INGEST_CODECS.join('|')}]
  [--url ws://127.0.0.1:8080/ws/ingest] [--duration SECONDS] [--trace TRACE_ID | --one-trace]
  [--label PREFIX] [--speed 1] [--level=-20] [--token TOKEN]
The file (PCM or float WAV, mono or stereo, mixed to mono) loops for --duration seconds (default: its length).
Without --file it streams generated speech-like audio whose active speech level is --level
dBFS, written --level=-35 (over about -3 it clips at full scale, as a hot microphone does).
Opus needs 8, 12, 16, 24 or 48 kHz audio (resample with: sox in.wav -r 48000 out.wav).`);
  process.exit(0);
}

const codec = values.codec as IngestCodec;
if (!(INGEST_CODECS as readonly string[]).includes(codec)) throw new Error(`--codec must be one of ${INGEST_CODECS.join(', ')}`);
const count = Number(values.stations);
if (!Number.isInteger(count) || count < 1) throw new Error('--stations must be a positive integer');

let samples: Float32Array;
let rate: number;
if (values.file) {
  const wav = readWav(readFileSync(values.file));
  samples = wav.samples;
  rate = wav.sampleRate;
} else {
  rate = 48000;
  // speechLike's level is the RMS over everything, pauses included; the active speech level
  // (what the reference optimizer targets) is about 2.4 dB higher.
  samples = speechLike(Number(values.level) - 2.4, 10, rate, 1);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.max(-1, Math.min(32767 / 32768, samples[i]));
}
if (codec === 'opus' && ![8000, 12000, 16000, 24000, 48000].includes(rate)) {
  console.error(`Opus needs 8, 12, 16, 24 or 48 kHz audio; ${values.file} is ${rate} Hz. Resample it: sox ${values.file} -r 48000 out.wav`);
  process.exit(2);
}
const audio = encodeAudio(samples, rate, codec);
const durationS = values.duration ? Number(values.duration) : undefined;
const speed = Number(values.speed);
const headers = values.token ? { authorization: `Bearer ${values.token}` } : undefined;

const stations: SimulatedStation[] = [];
let traceId = values.trace;
for (let i = 0; i < count; i++) {
  const s = new SimulatedStation({ url: values.url, audio, traceId, label: `${values.label}-${i + 1}`, durationS, speed, headers, offsetMs: (i * 20) / count });
  const started = await s.connect();
  if (values['one-trace'] && traceId === undefined) traceId = started.trace_id;
  stations.push(s);
  console.log(`station ${i + 1}: trace ${started.trace_id} station ${started.station_key} stream ${started.stream_id}`);
}
console.log(`streaming ${count} station(s) of ${codec} at ${rate} Hz${speed !== 1 ? `, ${speed}x real time` : ''}...`);
const report = setInterval(() => {
  const sent = stations.reduce((n, s) => n + s.framesSent, 0);
  const dropped = Math.max(0, ...stations.flatMap((s) => s.statusMessages().map((m) => m.dropped_frames)));
  console.log(`frames sent ${sent}; most frames dropped by the relay for one station: ${dropped}`);
}, 5000);
await runStations(stations);
clearInterval(report);
for (const s of stations) {
  for (const m of s.messages) if (m.type === 'error' || m.type === 'status') console.log(`${s.started?.station_key}: ${JSON.stringify(m)}`);
}
console.log(`done: ${stations.reduce((n, s) => n + s.framesSent, 0)} frames sent`);
