/**
 * Ogg pages (RFC 3533) for Opus (RFC 7845), in the browser and the relay alike: reading the
 * pages opus-recorder's encoder emits (one packet per page) to take out the raw Opus packets
 * the relay wants; writing a playable `.opus` file from recorded packets for local playback
 * and download; and the pages and headers the relay's Ogg export streams page by page.
 */

const CAPTURE_PATTERN = [0x4f, 0x67, 0x67, 0x53]; // "OggS"
const HEADER_BYTES = 27;
export const HEADER_TYPE_BOS = 2;
export const HEADER_TYPE_EOS = 4;

export interface OggPage {
  headerType: number;
  /** Granule position (for Opus: 48 kHz samples including pre-skip); -1 when none ends on the page. */
  granule: number;
  serial: number;
  sequence: number;
  /** Packets that end on this page (a packet continued from an earlier page is not joined). */
  packets: Uint8Array[];
  /** Bytes the page occupies. */
  length: number;
}

export class OggError extends Error {
  override name = 'OggError';
}

/** Parses the page at `bytes[offset]`. Throws OggError when it is not a whole, valid page. */
export function readOggPage(bytes: Uint8Array, offset = 0): OggPage {
  if (bytes.length - offset < HEADER_BYTES) throw new OggError(`an Ogg page needs ${HEADER_BYTES} header bytes; ${bytes.length - offset} left`);
  for (let i = 0; i < 4; i++) if (bytes[offset + i] !== CAPTURE_PATTERN[i]) throw new OggError('missing the "OggS" capture pattern');
  if (bytes[offset + 4] !== 0) throw new OggError(`Ogg version ${bytes[offset + 4]} is not 0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const lo = view.getUint32(6, true);
  const hi = view.getInt32(10, true);
  const granule = hi === -1 && lo === 0xffffffff ? -1 : hi * 2 ** 32 + lo;
  const segments = bytes[offset + 26];
  const tableEnd = offset + HEADER_BYTES + segments;
  if (bytes.length < tableEnd) throw new OggError('the segment table runs past the end');
  let bodyLength = 0;
  for (let i = 0; i < segments; i++) bodyLength += bytes[offset + HEADER_BYTES + i];
  if (bytes.length < tableEnd + bodyLength) throw new OggError('the page body runs past the end');
  const stored = view.getUint32(22, true);
  const copy = bytes.slice(offset, tableEnd + bodyLength);
  copy[22] = copy[23] = copy[24] = copy[25] = 0;
  if (oggCrc(copy) !== stored) throw new OggError('page checksum mismatch');

  const packets: Uint8Array[] = [];
  let start = tableEnd;
  let pos = tableEnd;
  for (let i = 0; i < segments; i++) {
    const lace = bytes[offset + HEADER_BYTES + i];
    pos += lace;
    if (lace < 255) {
      packets.push(bytes.subarray(start, pos));
      start = pos;
    }
  }
  return {
    headerType: bytes[offset + 5],
    granule,
    serial: view.getUint32(14, true),
    sequence: view.getUint32(18, true),
    packets,
    length: tableEnd + bodyLength - offset,
  };
}

/** True for Opus header packets ("OpusHead", "OpusTags"), which carry no audio. */
export function isOpusHeader(packet: Uint8Array): boolean {
  if (packet.length < 8) return false;
  const magic = String.fromCharCode(...packet.subarray(0, 8));
  return magic === 'OpusHead' || magic === 'OpusTags';
}

/** RFC 7845 §5.1: an identification header for mono or stereo with the given pre-skip. */
export function opusHead(channels: number, preSkip: number, inputSampleRate: number): Uint8Array {
  const head = new Uint8Array(19);
  head.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64]); // "OpusHead"
  const v = new DataView(head.buffer);
  head[8] = 1;
  head[9] = channels;
  v.setUint16(10, preSkip, true);
  v.setUint32(12, inputSampleRate, true);
  v.setInt16(16, 0, true);
  head[18] = 0;
  return head;
}

/** RFC 7845 §5.2: a comment header with the vendor string and no user comments. */
export function opusTags(vendor: string): Uint8Array {
  const vendorBytes = new TextEncoder().encode(vendor);
  const tags = new Uint8Array(8 + 4 + vendorBytes.length + 4);
  tags.set([0x4f, 0x70, 0x75, 0x73, 0x54, 0x61, 0x67, 0x73]); // "OpusTags"
  const v = new DataView(tags.buffer);
  v.setUint32(8, vendorBytes.length, true);
  tags.set(vendorBytes, 12);
  v.setUint32(12 + vendorBytes.length, 0, true);
  return tags;
}

/** The pre-skip (48 kHz samples) of an OpusHead packet. */
export function opusHeadPreSkip(head: Uint8Array): number {
  return new DataView(head.buffer, head.byteOffset).getUint16(10, true);
}

/** One page of whole packets (none continued across pages), its CRC set. */
export function oggPage(headerType: number, granule: number, serial: number, sequence: number, packets: readonly Uint8Array[]): Uint8Array {
  const lacing: number[] = [];
  let body = 0;
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
    body += p.length;
  }
  if (lacing.length > 255) throw new OggError(`${lacing.length} lacing values do not fit one page`);
  const out = new Uint8Array(HEADER_BYTES + lacing.length + body);
  const v = new DataView(out.buffer);
  out.set(CAPTURE_PATTERN);
  out[5] = headerType;
  v.setUint32(6, granule % 2 ** 32, true);
  v.setUint32(10, Math.floor(granule / 2 ** 32), true);
  v.setUint32(14, serial, true);
  v.setUint32(18, sequence, true);
  out[26] = lacing.length;
  out.set(lacing, HEADER_BYTES);
  let o = HEADER_BYTES + lacing.length;
  for (const p of packets) {
    out.set(p, o);
    o += p.length;
  }
  v.setUint32(22, oggCrc(out), true);
  return out;
}

/**
 * An Ogg Opus file of mono packets of `frameSamples` (48 kHz) each. Packets are grouped
 * about a second per page; `head` is the encoder's OpusHead when known.
 */
export function writeOggOpus(packets: readonly Uint8Array[], opts: { frameSamples: number; head?: Uint8Array; serial?: number }): Blob {
  const serial = opts.serial ?? 0x7461_7077; // "tapw"
  const head = opts.head ?? opusHead(1, 312, 48000);
  const preSkip = opusHeadPreSkip(head);
  const pages: Uint8Array[] = [oggPage(HEADER_TYPE_BOS, 0, serial, 0, [head]), oggPage(0, 0, serial, 1, [opusTags('Tapwire')])];
  let seq = 2;
  let granule = preSkip;
  const perPage = 50;
  for (let i = 0; i < packets.length; i += perPage) {
    const group = packets.slice(i, i + perPage);
    granule += group.length * opts.frameSamples;
    const last = i + perPage >= packets.length;
    pages.push(oggPage(last ? HEADER_TYPE_EOS : 0, granule, serial, seq++, group));
  }
  return new Blob(pages as BlobPart[], { type: 'audio/ogg; codecs=opus' });
}

let crcTable: Uint32Array | null = null;

/** The Ogg CRC-32: polynomial 0x04c11db7, no reflection, initial value 0 (RFC 3533 §6). */
export function oggCrc(bytes: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
      crcTable[i] = r >>> 0;
    }
  }
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
  return crc >>> 0;
}
