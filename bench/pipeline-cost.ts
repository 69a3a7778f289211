/**
 * CPU cost of the per-station media pipeline alone (decode, PRE tap, chain, POST tap,
 * bucket aggregation), on the calling thread, with no I/O and no thread hand-off: the
 * budget a media worker spends per station, whatever the transport. bench/pipeline.ts
 * prints it; bench/stations.ts sets the relay's own cost beside it.
 */
import { CODEC_IDS } from '../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../protocol/knobs.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { LatencyHistogram } from '../relay/src/media/latency-histogram.ts';
import type { ChunkedSamples } from '../relay/src/media/sample-chunks.ts';
import { SegmentBuffers } from '../relay/src/media/segment-buffers.ts';
import { Station } from '../relay/src/media/station.ts';
import { encodeAudio } from '../relay/src/sim/simulator.ts';

export interface PipelineCost {
  cpuS: number;
  /** Microseconds per 20 ms frame of one station. */
  usPerFrame: number;
  /** Percent of a core one station costs in real time. */
  percentPerStation: number;
  buckets: number;
}

export function measurePipeline(opts: { stations: number; seconds: number; codec: 'opus' | 'pcm16'; chain: boolean }): PipelineCost {
  const { stations: n, seconds, codec } = opts;
  const knobs = opts.chain
    ? mergeKnobs(defaultKnobs(), { 'hpf.enabled': true, 'gate.enabled': true, 'compressor.enabled': true, 'limiter.enabled': true, 'pcm.input_gain_db': 6 })
    : defaultKnobs();
  const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, codec);
  const latency = new LatencyHistogram();
  let buckets = 0;
  // A bucket's audio goes back to the pool once "written", as the relay's writer hands it back.
  const buffers = new SegmentBuffers();
  const giveBack = (c: ChunkedSamples): void => {
    for (const chunk of c.chunks) if (chunk !== null) buffers.release(chunk);
  };
  const stations = Array.from(
    { length: n },
    (_, i) =>
      new Station(
        { id: i, traceId: 'bench', stationKey: `s${i}`, codec, sampleRate: 48000, queueFrames: 48, jitterAllowanceMs: 60, bucketMs: 5000, graceMs: 1000, knobs, configVersion: 0, lastKnobEventId: null, client: 'bench' },
        {
          bucket: (r) => {
            buckets++;
            giveBack(r.pre);
            giveBack(r.post);
          },
          status: () => undefined,
          decodeError: () => undefined,
        },
        latency,
        buffers,
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
  for (const s of stations) s.close();
  const cpuS = (used.user + used.system) / 1e6;
  return { cpuS, usPerFrame: (cpuS / (seconds * 50 * n)) * 1e6, percentPerStation: (cpuS / seconds / n) * 100, buckets };
}
