/**
 * An export's samples as Opus in WebM (Matroska, RFC 9559; WebM's codec mapping for Opus),
 * encoded while it streams: the same Opus stream as the Ogg export (segment-export-opus.ts),
 * in clusters of CLUSTER_PACKETS packets, written with our EBML writer (audio/ebml.ts).
 *
 * Layout: EBML header; a Segment of unknown size (its bytes depend on the VBR packets, known
 * only once encoded, and the file is sent while it is encoded); Info with the range's
 * Duration (known up front, so players show the length at once); Tracks (one Opus track,
 * the OpusHead as CodecPrivate); then Clusters, each of known size (one cluster is held
 * while it fills: 1 s of packets, about 8 KB at 64 kbit/s). No Cues and no SeekHead: an
 * index needs the clusters' positions before they are written, which a streamed VBR file
 * cannot know without holding the whole file; ffmpeg and browsers seek in it by reading
 * the clusters (each starts with its Timestamp), which a downloaded file makes cheap.
 *
 * Exact length (Matroska's Opus mapping): CodecDelay is the encoder's delay (the OpusHead's
 * pre-skip, in ns), dropped by the decoder at the start; the last block is a BlockGroup
 * whose DiscardPadding (ns) drops the samples past the range's end. A decoder that honours
 * both gives exactly (to - from) × 48000 samples. Block timestamps count the packets from
 * 0 (packet n at n × 20 ms), CodecDelay included, as the mapping asks.
 */
import { Readable } from 'node:stream';
import { opusHead } from '../../../protocol/ogg-opus.ts';
import { EBML_ID as E, element, floatElement, intElement, stringElement, uintElement, unknownSizeStart } from '../audio/ebml.ts';
import { STREAM_FRAME_MS, STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import type { PcmSource } from './segment-export.ts';
import { EXPORT_VENDOR, opusExportPackets, PACKET_SAMPLES_48K, startOpusExport, type OpusExportOptions } from './segment-export-opus.ts';

/** Packets per cluster: 1 s. */
const CLUSTER_PACKETS = 50;
/** Matroska ticks: 1 ms (the default TimestampScale), so 20 ms packets have integer timestamps. */
const TIMESTAMP_SCALE_NS = 1_000_000;
/** How far before a seek target a decoder starts to converge, ns (the Opus mapping's 80 ms). */
const SEEK_PRE_ROLL_NS = 80_000_000;
const TRACK = 1;
const NS_PER_SAMPLE_48K = 1e9 / STREAM_SAMPLE_RATE;

/** The WebM file of a source, as a stream of Buffers (header and track first, then one Buffer per cluster). */
export function webmOpusExportStream(source: PcmSource, options: OpusExportOptions): Readable {
  return Readable.from(webmPieces(source, options), { objectMode: false, highWaterMark: 4 * CLUSTER_PACKETS * 256 });
}

/** The EBML header of a WebM file that uses v4 elements (CodecDelay, DiscardPadding). */
function ebmlHeader(): Buffer {
  return element(E.EBML, [
    uintElement(E.EBMLVersion, 1),
    uintElement(E.EBMLReadVersion, 1),
    uintElement(E.EBMLMaxIDLength, 4),
    uintElement(E.EBMLMaxSizeLength, 8),
    stringElement(E.DocType, 'webm'),
    uintElement(E.DocTypeVersion, 4),
    uintElement(E.DocTypeReadVersion, 2),
  ]);
}

/** Info and Tracks: the range's duration and the one Opus track. */
function segmentHeader(source: PcmSource, preSkip: number): Buffer {
  const durationMs = (source.samples / source.sampleRate) * 1000;
  const info = element(E.Info, [
    uintElement(E.TimestampScale, TIMESTAMP_SCALE_NS),
    floatElement(E.Duration, durationMs),
    stringElement(E.MuxingApp, EXPORT_VENDOR),
    stringElement(E.WritingApp, EXPORT_VENDOR),
  ]);
  const track = element(E.TrackEntry, [
    uintElement(E.TrackNumber, TRACK),
    uintElement(E.TrackUID, TRACK),
    uintElement(E.TrackType, 2), // audio
    stringElement(E.CodecID, 'A_OPUS'),
    element(E.CodecPrivate, Buffer.from(opusHead(1, preSkip, source.sampleRate))),
    uintElement(E.CodecDelay, Math.round(preSkip * NS_PER_SAMPLE_48K)),
    uintElement(E.SeekPreRoll, SEEK_PRE_ROLL_NS),
    element(E.Audio, [floatElement(E.SamplingFrequency, STREAM_SAMPLE_RATE), uintElement(E.Channels, 1)]),
  ]);
  return Buffer.concat([info, element(E.Tracks, track)]);
}

/** A (Simple)Block's body: track number, timestamp relative to the cluster (ms), flags, the packet. */
function blockBody(relativeMs: number, flags: number, packet: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x80 | TRACK; // the track number as a 1-byte variable-length integer
  head.writeInt16BE(relativeMs, 1);
  head[3] = flags;
  return Buffer.concat([head, packet]);
}

async function* webmPieces(source: PcmSource, options: OpusExportOptions): AsyncGenerator<Buffer> {
  const ex = startOpusExport(source, options);
  try {
    yield Buffer.concat([ebmlHeader(), unknownSizeStart(E.Segment), segmentHeader(source, ex.preSkip)]);
    // Samples of the last packet past pre-skip + the range: dropped by DiscardPadding.
    const discard = ex.packets * PACKET_SAMPLES_48K - ex.preSkip - ex.samples48k;
    let blocks: Buffer[] = [];
    let clusterMs = 0;
    let n = 0;
    for await (const packet of opusExportPackets(source, ex)) {
      const atMs = n * STREAM_FRAME_MS;
      if (n % CLUSTER_PACKETS === 0) {
        if (blocks.length > 0) yield element(E.Cluster, blocks);
        blocks = [uintElement(E.Timestamp, atMs)];
        clusterMs = atMs;
      }
      n++;
      if (n === ex.packets && discard > 0) {
        blocks.push(element(E.BlockGroup, [element(E.Block, blockBody(atMs - clusterMs, 0, packet)), intElement(E.DiscardPadding, Math.round(discard * NS_PER_SAMPLE_48K))]));
      } else {
        // 0x80: a keyframe (every Opus packet decodes on its own).
        blocks.push(element(E.SimpleBlock, blockBody(atMs - clusterMs, 0x80, packet)));
      }
    }
    if (blocks.length > 0) yield element(E.Cluster, blocks);
  } finally {
    ex.encoder.close();
  }
}
