/**
 * CPU cost of the per-station media pipeline alone (decode, PRE tap, chain, POST tap,
 * bucket aggregation, and optionally listener egress: an Opus encoder on the POST tap or on
 * both), on the calling thread, with no I/O and no thread hand-off: the budget a media
 * worker spends per station, whatever the transport. bench/pipeline.ts prints it;
 * bench/stations.ts sets the relay's own cost beside it.
 */
import { CODEC_IDS } from '../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../protocol/knobs.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { LatencyHistogram } from '../relay/src/media/latency-histogram.ts';
import { EGRESS_RECORD_HEADER_BYTES, EgressBatchWriter } from '../relay/src/media/egress-batch.ts';
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
  /** Egress packets encoded, and their mean size in bytes. */
  egressPackets: number;
  egressMeanBytes: number;
}

export type EgressTaps = 'none' | 'post' | 'both';

export interface PipelineOptions {
  stations: number;
  seconds: number;
  codec: 'opus' | 'pcm16';
  chain: boolean;
  /** Listener egress encoders per station; default none. */
  egress?: EgressTaps;
  /** Egress encoder settings; default 32000 bit/s, complexity 5. */
  egressBitrate?: number;
  egressComplexity?: number;
  /** The stations' rate, Hz; default 48000 (Opus ingest needs an Opus rate; pcm16 takes any, e.g. 44100 to include the egress resampler). */
  sampleRate?: number;
}

export function measurePipeline(opts: PipelineOptions): PipelineCost {
  const { stations: n, seconds, codec, egress = 'none', egressBitrate = 32000, egressComplexity = 5, sampleRate = 48000 } = opts;
  const knobs = opts.chain
    ? mergeKnobs(defaultKnobs(), { 'hpf.enabled': true, 'gate.enabled': true, 'compressor.enabled': true, 'limiter.enabled': true, 'pcm.input_gain_db': 6 })
    : defaultKnobs();
  const audio = encodeAudio(speechLike(-20, 10, sampleRate, 7), sampleRate, codec);
  const latency = new LatencyHistogram();
  let buckets = 0;
  // The worker's egress batch, handed over once per round as the worker posts it each tick.
  const egressBatch = new EgressBatchWriter();
  let egressPackets = 0;
  let egressBytes = 0;
  // A bucket's audio goes back to the pool once "written", as the relay's writer hands it back.
  const buffers = new SegmentBuffers();
  const giveBack = (c: ChunkedSamples): void => {
    for (const chunk of c.chunks) if (chunk !== null) buffers.release(chunk);
  };
  const stations = Array.from(
    { length: n },
    (_, i) =>
      new Station(
        { id: i, traceId: 'bench', stationKey: `s${i}`, codec, sampleRate, queueFrames: 48, jitterAllowanceMs: 60, bucketMs: 5000, graceMs: 1000, knobs, configVersion: 0, lastKnobEventId: null, client: 'bench' },
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
        egressBatch,
      ),
  );
  const egressOptions = { bitrate: egressBitrate, complexity: egressComplexity };
  for (const s of stations) {
    if (egress === 'both') s.setEgress(0, egressOptions);
    if (egress !== 'none') s.setEgress(1, egressOptions);
  }
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
    if (egressBatch.count > 0) {
      const batch = egressBatch.take();
      egressPackets += batch.count;
      egressBytes += batch.bytes - EGRESS_RECORD_HEADER_BYTES * batch.count;
    }
  }
  const used = process.cpuUsage(cpu0);
  for (const s of stations) s.close();
  const cpuS = (used.user + used.system) / 1e6;
  return {
    cpuS,
    usPerFrame: (cpuS / (seconds * 50 * n)) * 1e6,
    percentPerStation: (cpuS / seconds / n) * 100,
    buckets,
    egressPackets,
    egressMeanBytes: egressPackets === 0 ? 0 : egressBytes / egressPackets,
  };
}
