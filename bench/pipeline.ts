import { Station } from '../relay/src/media/station.ts';
import { LatencyHistogram } from '../relay/src/media/latency-histogram.ts';
import { defaultKnobs } from '../protocol/knobs.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { encodeAudio } from '../relay/src/sim/simulator.ts';
import { CODEC_IDS } from '../protocol/frame.ts';
process.env.OPUS_FORCE_WASM = '1';
const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, 'opus');
const N = 50, SECONDS = 20;
const hist = new LatencyHistogram();
let buckets = 0;
const stations = Array.from({ length: N }, (_, i) => new Station({ id: i, traceId: 't', stationKey: 's' + i, codec: 'opus', sampleRate: 48000, queueFrames: 48, jitterAllowanceMs: 60, bucketMs: 5000, graceMs: 1000, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null }, { bucket: () => { buckets++; }, status() {}, decodeError() {} }, hist));
const t0 = Date.now();
const cpu0 = process.cpuUsage();
for (let f = 0; f < SECONDS * 50; f++) {
  const now = t0 + f * 20;
  for (const s of stations) {
    s.enqueue({ stationId: 0, timestampMs: f * 20, sequence: f & 0xffff, codec: CODEC_IDS.opus, flags: 0, arrivalMs: now, payload: audio.packets[f % audio.packets.length], mediaMs: 0 }, now);
    s.pump(now);
  }
  if (f % 1 === 0) for (const s of stations) s.tick(now);
}
const u = process.cpuUsage(cpu0);
const cpuS = (u.user + u.system) / 1e6;
console.log(`${N} stations x ${SECONDS} s: cpu ${cpuS.toFixed(2)} s -> ${(cpuS / SECONDS / N * 100).toFixed(3)} % core per station; buckets ${buckets}`);
