/**
 * An export's samples (segment-export.ts's PcmSource: one station's, or a trace's mix) as
 * one Opus stream, encoded while it streams: the samples go through one OpusStreamEncoder
 * (48 kHz mono stream, 20 ms packets). The containers are written around the packets: Ogg
 * here (RFC 7845, pages of at most PAGE_PACKETS packets), WebM in segment-export-webm.ts.
 * Memory stays bounded whatever the range: one frame of samples, one page or cluster of
 * packets, the PCM piece being read.
 *
 * Exact length (RFC 7845 §4.2, §4.5): the encoder's delay is the pre-skip (Ogg's OpusHead,
 * WebM's CodecDelay), so decoded sample j after it is input sample j; the stream holds just
 * enough packets to cover pre-skip + (to - from) × 48000 samples (silence after the range),
 * and the container says where the range ends (Ogg: the last page's granule position;
 * WebM: the last block's DiscardPadding), so a decoder trims the rest and gives exactly
 * (to - from) × 48000 samples (whole ms ranges: an integer).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HEADER_TYPE_BOS, HEADER_TYPE_EOS, oggPage, opusHead, opusTags } from '../../../protocol/ogg-opus.ts';
import { MAX_STREAM_PACKET_BYTES, OpusStreamEncoder, STREAM_FRAME_MS, STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import { exportSamples, type PcmSource } from './segment-export.ts';

/**
 * OPUS_SET_COMPLEXITY of an export: the egress's middle setting. The export encodes on the
 * relay's main thread, between the reads of a download; 10 costs about three times as much
 * for little audible gain at 64 kbit/s mono.
 */
export const EXPORT_OPUS_COMPLEXITY = 5;
/** Packets per Ogg page: 1 s of audio, a page of about 8 KB at 64 kbit/s. */
const PAGE_PACKETS = 50;
/** 48 kHz samples per 20 ms packet. */
export const PACKET_SAMPLES_48K = (STREAM_SAMPLE_RATE * STREAM_FRAME_MS) / 1000;
export const EXPORT_VENDOR = 'tapwire relay export';
/**
 * Packets encoded between two turns of the event loop (1 s of audio, a few ms of encoding).
 * The stream's buffer is counted in bytes, and silence encodes to a few bytes a packet: a
 * long silent range would fill it only after minutes of encoding, all that time without a
 * turn for anything else on the relay's main thread.
 */
const PACKETS_PER_TURN = 50;

export interface OpusExportOptions {
  /** Opus target bitrate, bit/s (VBR around it). */
  bitrate: number;
}

/** The Opus stream of an export: its encoder and how long it is. */
export interface OpusExport {
  encoder: OpusStreamEncoder;
  /** The encoder's delay, 48 kHz samples: what a decoder drops at the start. */
  preSkip: number;
  /** 48 kHz samples a decoder gives for the range. */
  samples48k: number;
  /** Packets the stream holds: enough for preSkip + samples48k. */
  packets: number;
}

/** Starts the Opus stream of a source; the caller closes `encoder`. */
export function startOpusExport(source: PcmSource, options: OpusExportOptions): OpusExport {
  const encoder = new OpusStreamEncoder(source.sampleRate, { bitrate: options.bitrate, complexity: EXPORT_OPUS_COMPLEXITY });
  const preSkip = encoder.delaySamples48k;
  const samples48k = Math.round((source.samples * STREAM_SAMPLE_RATE) / source.sampleRate);
  return { encoder, preSkip, samples48k, packets: Math.ceil((preSkip + samples48k) / PACKET_SAMPLES_48K) };
}

/**
 * The stream's packets, each a Buffer of its own: the source's samples in 20 ms frames (the
 * last partial one padded with silence), then silence until there are `packets` of them.
 */
export async function* opusExportPackets(source: PcmSource, ex: OpusExport): AsyncGenerator<Buffer> {
  const { encoder } = ex;
  const frame = new Float32Array(encoder.frameSamples);
  const scratch = new Uint8Array(MAX_STREAM_PACKET_BYTES);
  let encoded = 0;
  let filled = 0;
  const encodeFrame = (length: number): Buffer => {
    const n = encoder.encode(frame, length, scratch, 0);
    encoded++;
    return Buffer.from(scratch.subarray(0, n));
  };
  const turn = async (): Promise<void> => {
    if (encoded % PACKETS_PER_TURN === 0) await nextTurn();
  };
  for await (const piece of source.pieces()) {
    for (let at = 0; at + 1 < piece.length; at += 2) {
      frame[filled++] = piece.readInt16LE(at) / 32768;
      if (filled < frame.length) continue;
      filled = 0;
      yield encodeFrame(frame.length);
      await turn();
    }
  }
  if (filled > 0) yield encodeFrame(filled);
  frame.fill(0);
  while (encoded < ex.packets) {
    yield encodeFrame(frame.length);
    await turn();
  }
}

/** The Ogg Opus file of a source, as a stream of Buffers (the two header pages first). */
export function oggOpusExportStream(source: PcmSource, options: OpusExportOptions): Readable {
  return Readable.from(oggOpusPages(source, options), { objectMode: false, highWaterMark: 4 * PAGE_PACKETS * 256 });
}

/** 48 kHz samples a decoder gives for the range: (to - from) × 48000, rounded to a sample. */
export function opusExportSamples48k(fromMs: number, toMs: number): number {
  return exportSamples(fromMs, toMs, STREAM_SAMPLE_RATE);
}

async function* oggOpusPages(source: PcmSource, options: OpusExportOptions): AsyncGenerator<Buffer> {
  const ex = startOpusExport(source, options);
  try {
    const endGranule = ex.preSkip + ex.samples48k;
    const serial = randomBytes(4).readUInt32LE(0);
    let sequence = 0;
    const page = (headerType: number, granule: number, packets: readonly Uint8Array[]): Buffer => {
      const bytes = oggPage(headerType, granule, serial, sequence++, packets);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    };
    yield page(HEADER_TYPE_BOS, 0, [opusHead(1, ex.preSkip, source.sampleRate)]);
    yield page(0, 0, [opusTags(EXPORT_VENDOR)]);

    const pending: Buffer[] = [];
    let segments = 0; // lacing values of the pending packets
    let encoded = 0;
    for await (const packet of opusExportPackets(source, ex)) {
      const lacing = Math.floor(packet.length / 255) + 1;
      if (pending.length === PAGE_PACKETS || segments + lacing > 255) {
        yield page(0, encoded * PACKET_SAMPLES_48K, pending);
        pending.length = 0;
        segments = 0;
      }
      pending.push(packet);
      segments += lacing;
      encoded++;
    }
    // End trimming (RFC 7845 §4.5): the last page's granule position is less than the samples
    // its packets hold, by less than one packet.
    yield page(HEADER_TYPE_EOS, endGranule, pending);
  } finally {
    ex.encoder.close();
  }
}
