/**
 * The live WebM muxer alone, fed Opus packets encoded here: the init segment and clusters
 * are the EBML elements a live WebM is made of, the blocks are the packets given, the
 * timeline counts 20 ms per packet, and ffmpeg (the reference demuxer and libopus) decodes
 * a mid-stream join, init segment then later clusters, to audio of the right duration and
 * level, as a browser's MSE would.
 */
import { describe, expect, it } from 'vitest';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { encodeAudio } from '../sim/simulator.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { decodeWebm, hasFfmpeg, probeWebm } from './listen-client.ts';
import { children, EBML_ID, readCluster, readElements } from './webm-reader.ts';
import { opusHead, OPUS_PRE_SKIP_48K, WebmLiveMuxer, type WebmLiveMuxerOptions } from './webm-live-muxer.ts';

const RATE = 48000;
const TONE_PEAK_DBFS = -12;
/** RMS of a sine: its peak minus 3.01 dB. */
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 10 * Math.log10(2);
const packets = encodeAudio(sine(440, TONE_PEAK_DBFS, 6, RATE), RATE, 'opus').packets; // 300 packets

interface Muxed {
  inits: Buffer[];
  clusters: { bytes: Buffer; startMs: number; firstArrivalMs: number }[];
  errors: Error[];
}

/** Muxes the packets (arrival time of packet i: 1000 + i), yielding to the event loop now and then as live packets would. */
async function mux(options: WebmLiveMuxerOptions, count = packets.length): Promise<Muxed> {
  const out: Muxed = { inits: [], clusters: [], errors: [] };
  const m = new WebmLiveMuxer(options, {
    onInit: (b) => out.inits.push(b),
    onCluster: (bytes, startMs, firstArrivalMs) => out.clusters.push({ bytes, startMs, firstArrivalMs }),
    onError: (e) => out.errors.push(e),
  });
  for (let i = 0; i < count; i++) {
    m.push(packets[i % packets.length], 1000 + i);
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 20));
  m.close();
  return out;
}

describe('WebmLiveMuxer', () => {
  it('writes the OpusHead of RFC 7845 §5.1: mono, 48 kHz, libopus\'s pre-skip', () => {
    const h = opusHead();
    expect(h.length).toBe(19);
    expect(Buffer.from(h.subarray(0, 8)).toString('latin1')).toBe('OpusHead');
    expect([h[8], h[9], h[10] | (h[11] << 8), h[18]]).toEqual([1, 1, OPUS_PRE_SKIP_48K, 0]);
    expect(new DataView(h.buffer).getUint32(12, true)).toBe(48000);
  });

  it('gives an init segment (EBML header, Segment of unknown size with Info and Tracks, no Cluster) once', async () => {
    const { inits, errors } = await mux({ clusterMs: 200 });
    expect(errors).toEqual([]);
    expect(inits.length).toBe(1);
    const init = inits[0];
    const top = readElements(init);
    expect(top.map((e) => e.id)).toEqual([EBML_ID.EBML, EBML_ID.Segment]);
    const docType = children(init, top[0]).find((e) => e.id === EBML_ID.DocType);
    expect(docType && init.subarray(docType.start, docType.end).toString()).toBe('webm');
    expect(top[1].unknownSize).toBe(true);
    const inSegment = children(init, top[1]).map((e) => e.id);
    expect(inSegment).toContain(EBML_ID.Info);
    expect(inSegment).toContain(EBML_ID.Tracks);
    expect(inSegment).not.toContain(EBML_ID.Cluster);
    const tracks = children(init, children(init, top[1]).find((e) => e.id === EBML_ID.Tracks) as never);
    const entry = children(init, tracks[0]);
    const codecId = entry.find((e) => e.id === EBML_ID.CodecID);
    const codecPrivate = entry.find((e) => e.id === EBML_ID.CodecPrivate);
    expect(codecId && init.subarray(codecId.start, codecId.end).toString()).toBe('A_OPUS');
    expect(codecPrivate && Buffer.from(init.subarray(codecPrivate.start, codecPrivate.end))).toEqual(Buffer.from(opusHead()));
  });

  it('gives whole clusters of clusterMs, each block one packet given, on a timeline of 20 ms per packet from 0', async () => {
    const { clusters } = await mux({ clusterMs: 200 });
    // 300 packets in 200 ms clusters: 29 handed on, the 30th waits for the next packet.
    expect(clusters.length).toBe(29);
    let packet = 0;
    for (const [i, c] of clusters.entries()) {
      const parsed = readCluster(c.bytes);
      expect(c.startMs).toBe(i * 200);
      expect(parsed.timestampMs).toBe(i * 200);
      expect(c.firstArrivalMs).toBe(1000 + i * 10);
      expect(parsed.blocks.map((b) => b.relativeMs)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
      for (const b of parsed.blocks) expect(Buffer.from(b.payload)).toEqual(Buffer.from(packets[packet++]));
    }
  });

  it('keeps its memory bounded by moving to a new Output: the same init segment, the same timeline, only whole clusters', async () => {
    const { inits, clusters, errors } = await mux({ clusterMs: 100, rolloverClusters: 4 });
    expect(errors).toEqual([]);
    expect(inits.length).toBe(1);
    expect(clusters.length).toBe(59);
    for (const [i, c] of clusters.entries()) {
      expect(readCluster(c.bytes).timestampMs).toBe(i * 100);
      expect(readCluster(c.bytes).blocks.length).toBe(5);
    }
  });

  it('starts its timeline at startAtPacket (a muxer started again goes on where the last stopped)', async () => {
    const { clusters } = await mux({ clusterMs: 200, startAtPacket: 500 }, 40);
    expect(clusters.map((c) => c.startMs)).toEqual([10_000, 10_200, 10_400]);
  });

  it('refuses a cluster length that is not a whole number of packets', () => {
    const sink = { onInit: () => undefined, onCluster: () => undefined, onError: () => undefined };
    expect(() => new WebmLiveMuxer({ clusterMs: 250 }, sink)).toThrow(/multiple of 20/);
    expect(() => new WebmLiveMuxer({ clusterMs: 0 }, sink)).toThrow(TypeError);
  });

  it.skipIf(skipWithout('ffmpeg', hasFfmpeg))('decodes with ffmpeg from a mid-stream join: the init segment, then clusters from 2 s on, to the tone at its level', async () => {
    const { inits, clusters } = await mux({ clusterMs: 200 });
    const joined = Buffer.concat([inits[0], ...clusters.slice(10).map((c) => c.bytes)]);
    const probe = probeWebm(joined);
    expect(probe).toMatchObject({ codec: 'opus', sampleRate: 48000, channels: 1 });
    expect(probe.startS).toBeCloseTo(2.0, 3);
    const audio = decodeWebm(joined);
    // 19 clusters of 200 ms, less the pre-skip the decoder drops at its start.
    expect(audio.length).toBe(19 * 0.2 * RATE - OPUS_PRE_SKIP_48K);
    // A decoder that starts mid-stream settles within a few ms: measure after the first 50 ms.
    expect(Math.abs(measureRmsDbfs(audio, 0.05 * RATE) - TONE_RMS_DBFS)).toBeLessThan(0.5);
  });
});
