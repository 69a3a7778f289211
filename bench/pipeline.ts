/**
 * CPU cost of one station's media pipeline (decode, PRE meters, chain, POST meters, bucket
 * accumulation), measured on one thread with no I/O: the per-station budget a media
 * worker spends, whatever the transport.
 *
 *   node --import tsx bench/pipeline.ts [--stations 50] [--seconds 20] [--codec opus|pcm16] [--chain off|on]
 */
import { parseArgs } from 'node:util';
import { CODEC_IDS } from '../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../protocol/knobs.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { LatencyHistogram } from '../relay/src/media/latency-histogram.ts';
import { Station } from '../relay/src/media/station.ts';
import { encodeAudio } from '../relay/src/sim/simulator.ts';


const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    codec: { type: 'string', default: 'opus' },
    chain: { type: 'string', default: 'off' },
  },
});
const n = Number(values.stations);
const seconds = Number(values.seconds);
const codec = values.codec === 'pcm16' ? 'pcm16' : 'opus';
const knobs =
  values.chain === 'on'
    ? mergeKnobs(defaultKnobs(), { 'hpf.enabled': true, 'gate.enabled': true, 'compressor.enabled': true, 'limiter.enabled': true, 'pcm.input_gain_db': 6 })
    : defaultKnobs();

const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, codec);
const latency = new LatencyHistogram();
let buckets = 0;
const stations = Array.from(
  { length: n },
  (_, i) =>
    new Station(
      { id: i, traceId: 'bench', stationKey: `s${i}`, codec, sampleRate: 48000, queueFrames: 48, jitterAllowanceMs: 60, bucketMs: 5000, graceMs: 1000, knobs, configVersion: 0, lastKnobEventId: null, client: 'bench' },
      { bucket: () => void buckets++, status: () => undefined, decodeError: () => undefined },
      latency,
    ),
);

const t0 = Date.now();
const cpu0 = process.cpuUsage();
for (let f = 0; f < seconds * 50; f++) {
  const now = t0 + f * 20;
  for (const s of stations) {
    const payload = audio.packets[f % audio.packets.length];
    s.enqueue({ stationId: s.id, timestampMs: f * 20, sequence: f & 0xffff, codec: CODEC_IDS[codec], flags: 0, arrivalMs: now, payload, mediaMs: 0 }, now);
    s.pump(now);
  }
  for (const s of stations) s.tick(now);
}
const used = process.cpuUsage(cpu0);
const cpuS = (used.user + used.system) / 1e6;
console.log(
  `${codec}, chain ${values.chain}: ${n} stations x ${seconds} s of 48 kHz audio in ${cpuS.toFixed(2)} CPU s -> ` +
    `${((cpuS / seconds / n) * 100).toFixed(3)} % of a core per station, ${((cpuS / (seconds * 50 * n)) * 1e6).toFixed(1)} us per 20 ms frame; ${buckets} buckets`,
);
