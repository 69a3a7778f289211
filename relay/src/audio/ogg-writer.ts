/**
 * Ogg pages (RFC 3533) of one logical bitstream, written as whole Buffers: enough for the
 * relay's Opus exports (RFC 7845), whose packets never continue across pages.
 */

/** Page header types: the first page of a logical bitstream, and its last. */
export const HEADER_TYPE_BOS = 0x02;
export const HEADER_TYPE_EOS = 0x04;

/** The CRC-32 table of Ogg pages: polynomial 0x04c11db7, not reflected, initial value 0 (RFC 3533 §6). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** CRC-32 of an Ogg page: polynomial 0x04c11db7, not reflected, initial value 0 (RFC 3533 §6). */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
  return crc;
}

/** One logical bitstream's pages: whole packets only (none continued across pages). */
export class OggPageWriter {
  private sequence = 0;

  constructor(private readonly serial: number) {}

  /** A page of whole packets (at most 255 lacing values) ending at `granule` (48 kHz samples). */
  page(packets: readonly Uint8Array[], granule: number, headerType: number): Buffer {
    let lacing = 0;
    let bodyBytes = 0;
    for (const p of packets) {
      lacing += Math.floor(p.length / 255) + 1;
      bodyBytes += p.length;
    }
    if (lacing > 255) throw new RangeError(`an Ogg page holds at most 255 lacing values, these packets need ${lacing}`);
    const page = Buffer.alloc(27 + lacing + bodyBytes);
    page.write('OggS', 0, 'ascii');
    page[4] = 0; // version
    page[5] = headerType;
    page.writeBigUInt64LE(BigInt(granule), 6);
    page.writeUInt32LE(this.serial, 14);
    page.writeUInt32LE(this.sequence++, 18);
    page[26] = lacing;
    let at = 27;
    for (const p of packets) {
      for (let left = p.length; ; left -= 255) {
        page[at++] = Math.min(left, 255);
        if (left < 255) break;
      }
    }
    for (const p of packets) {
      page.set(p, at);
      at += p.length;
    }
    page.writeUInt32LE(oggCrc(page), 22); // computed with the CRC field zero
    return page;
  }
}
