/**
 * A station's audio over a time range as one Opus stream in Ogg (RFC 7845), encoded while it
 * streams: the samples of segment-export.ts's `pcmPieces` (the WAV's data, silence in the
 * gaps) go through one OpusStreamEncoder (48 kHz mono stream, 20 ms packets) into Ogg pages
 * of at most PAGE_PACKETS packets. Memory stays bounded whatever the range: one frame of
 * samples, one page of packets, the PCM piece being read.
 *
 * Exact length (RFC 7845 §4.2, §4.5): the OpusHead's pre-skip is the encoder's delay, so
 * decoded sample j after the pre-skip is input sample j; the stream holds just enough packets
 * to cover pre-skip + (to - from) × 48000 samples (silence after the range), and the last
 * page's granule position says where the range ends, so a decoder trims the rest and gives
 * exactly (to - from) × 48000 samples (whole ms ranges: an integer).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HEADER_TYPE_BOS, HEADER_TYPE_EOS, oggPage, opusHead, opusTags } from '../../../protocol/ogg-opus.ts';
import { MAX_STREAM_PACKET_BYTES, OpusStreamEncoder, STREAM_FRAME_MS, STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import { exportSamples, pcmPieces, type ExportPlan } from './segment-export.ts';

/**
 * OPUS_SET_COMPLEXITY of an export: the egress's middle setting. The export encodes on the
 * relay's main thread, between the reads of a download; 10 costs about three times as much
 * for little audible gain at 64 kbit/s mono.
 */
export const EXPORT_OPUS_COMPLEXITY = 5;
/** Packets per Ogg page: 1 s of audio, a page of about 8 KB at 64 kbit/s. */
const PAGE_PACKETS = 50;
/** 48 kHz samples per 20 ms packet. */
const PACKET_SAMPLES_48K = (STREAM_SAMPLE_RATE * STREAM_FRAME_MS) / 1000;
const VENDOR = 'tapwire relay export';

export interface OpusExportOptions {
  /** Opus target bitrate, bit/s (VBR around it). */
  bitrate: number;
}

/** The Ogg Opus file of a plan, as a stream of Buffers (the two header pages first). */
export function oggOpusExportStream(plan: ExportPlan, options: OpusExportOptions): Readable {
  return Readable.from(oggOpusPages(plan, options), { objectMode: false, highWaterMark: 4 * PAGE_PACKETS * 256 });
}

/** 48 kHz samples a decoder gives for the range: (to - from) × 48000, rounded to a sample. */
export function opusExportSamples48k(fromMs: number, toMs: number): number {
  return exportSamples(fromMs, toMs, STREAM_SAMPLE_RATE);
}

async function* oggOpusPages(plan: ExportPlan, options: OpusExportOptions): AsyncGenerator<Buffer> {
  const encoder = new OpusStreamEncoder(plan.sampleRate, { bitrate: options.bitrate, complexity: EXPORT_OPUS_COMPLEXITY });
  try {
    const preSkip = encoder.delaySamples48k;
    const endGranule = preSkip + opusExportSamples48k(plan.fromMs, plan.toMs);
    const packets = Math.ceil(endGranule / PACKET_SAMPLES_48K);
    const serial = randomBytes(4).readUInt32LE(0);
    let sequence = 0;
    const page = (headerType: number, granule: number, packets: readonly Uint8Array[]): Buffer => {
      const bytes = oggPage(headerType, granule, serial, sequence++, packets);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    };
    yield page(HEADER_TYPE_BOS, 0, [opusHead(1, preSkip, plan.sampleRate)]);
    yield page(0, 0, [opusTags(VENDOR)]);

    const frame = new Float32Array(encoder.frameSamples);
    const scratch = new Uint8Array(MAX_STREAM_PACKET_BYTES);
    const pending: Buffer[] = [];
    let segments = 0; // lacing values of the pending packets
    let encoded = 0;
    let filled = 0;
    // Encodes the frame into the pending page; the page before it first, when it is full.
    const encodeFrame = (length: number): Buffer | null => {
      const n = encoder.encode(frame, length, scratch, 0);
      let full: Buffer | null = null;
      const lacing = Math.floor(n / 255) + 1;
      if (pending.length === PAGE_PACKETS || segments + lacing > 255) {
        full = page(0, encoded * PACKET_SAMPLES_48K, pending);
        pending.length = 0;
        segments = 0;
      }
      pending.push(Buffer.from(scratch.subarray(0, n)));
      segments += lacing;
      encoded++;
      return full;
    };

    for await (const piece of pcmPieces(plan)) {
      for (let at = 0; at + 1 < piece.length; at += 2) {
        frame[filled++] = piece.readInt16LE(at) / 32768;
        if (filled < frame.length) continue;
        filled = 0;
        const full = encodeFrame(frame.length);
        if (full !== null) yield full;
      }
    }
    // The range's last partial frame (padded with silence), then silence until the packets
    // cover pre-skip + the range.
    if (filled > 0) {
      const full = encodeFrame(filled);
      if (full !== null) yield full;
    }
    frame.fill(0);
    while (encoded < packets) {
      const full = encodeFrame(frame.length);
      if (full !== null) yield full;
    }
    // End trimming (RFC 7845 §4.5): the last page's granule position is less than the samples
    // its packets hold, by less than one packet.
    yield page(HEADER_TYPE_EOS, endGranule, pending);
  } finally {
    encoder.close();
  }
}
