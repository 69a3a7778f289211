/**
 * RTCP packets (RFC 3550 §6.4 to §6.6): Sender Report, Receiver Report, Source Description,
 * Goodbye, and any other type kept raw. Every packet starts with the common header
 *
 *   |V=2|P| count (5) | packet type (8) | length (16): 32-bit words minus one |
 *
 * Each class parses exactly one packet from a buffer that spans it (`deSerialize`) and
 * builds one (`serialize`); rtcp-compound.ts splits and joins datagrams. Parsed byte
 * fields (SDES item data, extensions, raw bodies) are views into the input.
 */
import { RtpParseError } from './errors.ts';
import { REPORT_BLOCK_BYTES, ReportBlock } from './rtcp-report-block.ts';

export const RTCP_VERSION = 2;
export const RTCP_HEADER_BYTES = 4;
export const RTCP_PT = { SR: 200, RR: 201, SDES: 202, BYE: 203 } as const;
/** SDES item types (§6.5). */
export const SDES_ITEM = { END: 0, CNAME: 1, NAME: 2, EMAIL: 3, PHONE: 4, LOC: 5, TOOL: 6, NOTE: 7, PRIV: 8 } as const;
const MAX_COUNT = 31;

interface Split {
  count: number;
  packetType: number;
  /** After the 4-byte header, without padding. */
  body: Uint8Array;
  view: DataView;
  paddingBytes: number;
}

/** Validates the common header of the packet that `buf` spans exactly, and splits off the body. */
function split(buf: Uint8Array, expectedType?: number): Split {
  if (buf.length < RTCP_HEADER_BYTES) {
    throw new RtpParseError('too_short', `RTCP packet is ${buf.length} bytes; the common header needs ${RTCP_HEADER_BYTES}`);
  }
  const version = buf[0] >> 6;
  if (version !== RTCP_VERSION) throw new RtpParseError('bad_version', `RTCP version is ${version}; expected ${RTCP_VERSION}`);
  const packetType = buf[1];
  if (expectedType !== undefined && packetType !== expectedType) {
    throw new TypeError(`packet type is ${packetType}; this class parses ${expectedType}`);
  }
  const declared = 4 * (((buf[2] << 8) | buf[3]) + 1);
  if (declared !== buf.length) {
    throw new RtpParseError('bad_length', `RTCP length field says ${declared} bytes; the packet spans ${buf.length}`);
  }
  let end = buf.length;
  let paddingBytes = 0;
  if (buf[0] & 0x20) {
    paddingBytes = buf[buf.length - 1];
    if (paddingBytes === 0 || paddingBytes > buf.length - RTCP_HEADER_BYTES) {
      throw new RtpParseError('bad_padding', `RTCP padding count is ${paddingBytes}; expected 1 to ${buf.length - RTCP_HEADER_BYTES}`);
    }
    end -= paddingBytes;
  }
  const body = buf.subarray(RTCP_HEADER_BYTES, end);
  return { count: buf[0] & 0x1f, packetType, body, view: new DataView(body.buffer, body.byteOffset, body.byteLength), paddingBytes };
}

/** A packet of `bodyBytes` (a multiple of 4) plus padding, header written; `fill` writes the body at offset 4. */
function frame(packetType: number, count: number, bodyBytes: number, paddingBytes: number, fill: (view: DataView, out: Uint8Array) => void): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > MAX_COUNT) throw new TypeError(`an RTCP count must be in [0, ${MAX_COUNT}], got ${count}`);
  if (paddingBytes % 4 !== 0 || paddingBytes < 0 || paddingBytes > 252) {
    throw new TypeError(`RTCP paddingBytes must be a multiple of 4 in [0, 252] to keep 32-bit alignment, got ${paddingBytes}`);
  }
  const out = new Uint8Array(RTCP_HEADER_BYTES + bodyBytes + paddingBytes);
  const view = new DataView(out.buffer);
  out[0] = (RTCP_VERSION << 6) | (paddingBytes > 0 ? 0x20 : 0) | count;
  out[1] = packetType;
  view.setUint16(2, out.length / 4 - 1);
  fill(view, out);
  if (paddingBytes > 0) out[out.length - 1] = paddingBytes;
  return out;
}

function need(s: Split, bytes: number, what: string): void {
  if (s.body.length < bytes) throw new RtpParseError('bad_length', `${what} needs ${bytes} body bytes; the packet has ${s.body.length}`);
}

function readBlocks(s: Split, offset: number): ReportBlock[] {
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < s.count; i++) blocks.push(ReportBlock.deSerialize(s.view, offset + i * REPORT_BLOCK_BYTES));
  return blocks;
}

function alignedLength(bytes: number, what: string): number {
  if (bytes % 4 !== 0) throw new TypeError(`${what} must be a multiple of 4 bytes, got ${bytes}`);
  return bytes;
}

/** Sender Report, PT 200 (§6.4.1). */
export class SenderReport {
  readonly packetType = RTCP_PT.SR;
  constructor(
    public ssrc: number,
    /** NTP timestamp of the report (ntp-time.ts). */
    public ntpHi: number,
    public ntpLo: number,
    /** The same instant in the RTP timestamp clock of the stream. */
    public rtpTimestamp: number,
    /** Packets sent since the start of transmission. */
    public packetCount: number,
    /** Payload octets sent (headers and padding excluded). */
    public octetCount: number,
    public reports: ReportBlock[] = [],
    /** Profile-specific extension after the report blocks, a multiple of 4 bytes. */
    public extension: Uint8Array = new Uint8Array(0),
    public paddingBytes = 0,
  ) {}

  static deSerialize(buf: Uint8Array): SenderReport {
    const s = split(buf, RTCP_PT.SR);
    const fixed = 24;
    need(s, fixed + s.count * REPORT_BLOCK_BYTES, `an SR with ${s.count} report blocks`);
    const v = s.view;
    return new SenderReport(
      v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12), v.getUint32(16), v.getUint32(20),
      readBlocks(s, fixed), s.body.subarray(fixed + s.count * REPORT_BLOCK_BYTES), s.paddingBytes,
    );
  }

  serialize(): Uint8Array {
    const blocksAt = 24;
    const extAt = blocksAt + this.reports.length * REPORT_BLOCK_BYTES;
    return frame(RTCP_PT.SR, this.reports.length, extAt + alignedLength(this.extension.length, 'an SR extension'), this.paddingBytes, (v, out) => {
      v.setUint32(4, this.ssrc >>> 0);
      v.setUint32(8, this.ntpHi >>> 0);
      v.setUint32(12, this.ntpLo >>> 0);
      v.setUint32(16, this.rtpTimestamp >>> 0);
      v.setUint32(20, this.packetCount >>> 0);
      v.setUint32(24, this.octetCount >>> 0);
      this.reports.forEach((b, i) => b.serializeInto(v, RTCP_HEADER_BYTES + blocksAt + i * REPORT_BLOCK_BYTES));
      out.set(this.extension, RTCP_HEADER_BYTES + extAt);
    });
  }
}

/** Receiver Report, PT 201 (§6.4.2). */
export class ReceiverReport {
  readonly packetType = RTCP_PT.RR;
  constructor(
    /** SSRC of the packet's sender (the receiver writing the report). */
    public ssrc: number,
    public reports: ReportBlock[] = [],
    public extension: Uint8Array = new Uint8Array(0),
    public paddingBytes = 0,
  ) {}

  static deSerialize(buf: Uint8Array): ReceiverReport {
    const s = split(buf, RTCP_PT.RR);
    need(s, 4 + s.count * REPORT_BLOCK_BYTES, `an RR with ${s.count} report blocks`);
    return new ReceiverReport(s.view.getUint32(0), readBlocks(s, 4), s.body.subarray(4 + s.count * REPORT_BLOCK_BYTES), s.paddingBytes);
  }

  serialize(): Uint8Array {
    const extAt = 4 + this.reports.length * REPORT_BLOCK_BYTES;
    return frame(RTCP_PT.RR, this.reports.length, extAt + alignedLength(this.extension.length, 'an RR extension'), this.paddingBytes, (v, out) => {
      v.setUint32(4, this.ssrc >>> 0);
      this.reports.forEach((b, i) => b.serializeInto(v, RTCP_HEADER_BYTES + 4 + i * REPORT_BLOCK_BYTES));
      out.set(this.extension, RTCP_HEADER_BYTES + extAt);
    });
  }
}

export interface SdesItem {
  /** An SDES_ITEM value other than END. */
  type: number;
  /** Up to 255 bytes; UTF-8 text for all types but PRIV's prefix (§6.5). */
  data: Uint8Array;
}

export interface SdesChunk {
  ssrc: number;
  items: SdesItem[];
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Source Description, PT 202 (§6.5): chunks of items, each chunk ended by null bytes to a 32-bit boundary. */
export class SourceDescription {
  readonly packetType = RTCP_PT.SDES;
  constructor(
    public chunks: SdesChunk[] = [],
    public paddingBytes = 0,
  ) {}

  /** A one-chunk SDES carrying the CNAME, the item every compound packet needs (§6.1). */
  static withCname(ssrc: number, cname: string): SourceDescription {
    return new SourceDescription([{ ssrc, items: [{ type: SDES_ITEM.CNAME, data: utf8.encode(cname) }] }]);
  }

  /** The CNAME of `ssrc` (of the first chunk when omitted), or undefined. */
  cname(ssrc?: number): string | undefined {
    const chunk = ssrc === undefined ? this.chunks[0] : this.chunks.find((c) => c.ssrc === ssrc);
    const item = chunk?.items.find((i) => i.type === SDES_ITEM.CNAME);
    return item && utf8Decoder.decode(item.data);
  }

  static deSerialize(buf: Uint8Array): SourceDescription {
    const s = split(buf, RTCP_PT.SDES);
    const chunks: SdesChunk[] = [];
    let i = 0;
    for (let c = 0; c < s.count; c++) {
      if (i + 4 > s.body.length) throw new RtpParseError('bad_length', `SDES chunk ${c} of ${s.count} starts at ${i}; the body is ${s.body.length} bytes`);
      const chunk: SdesChunk = { ssrc: s.view.getUint32(i), items: [] };
      i += 4;
      for (;;) {
        if (i >= s.body.length) throw new RtpParseError('bad_length', `SDES chunk ${c} has no END item before the body ends at ${s.body.length}`);
        const type = s.body[i];
        if (type === SDES_ITEM.END) {
          i = (i + 4) & ~3; // the END byte and the nulls up to the next 32-bit boundary
          break;
        }
        if (i + 2 > s.body.length) throw new RtpParseError('bad_length', `SDES item at ${i} has no length byte`);
        const len = s.body[i + 1];
        if (i + 2 + len > s.body.length) {
          throw new RtpParseError('bad_length', `SDES item type ${type} declares ${len} bytes at ${i + 2}; ${s.body.length - i - 2} remain`);
        }
        chunk.items.push({ type, data: s.body.subarray(i + 2, i + 2 + len) });
        i += 2 + len;
      }
      chunks.push(chunk);
    }
    return new SourceDescription(chunks, s.paddingBytes);
  }

  serialize(): Uint8Array {
    let bytes = 0;
    for (const c of this.chunks) {
      let n = 4;
      for (const item of c.items) {
        if (item.type <= 0 || item.type > 255 || item.data.length > 255) {
          throw new TypeError(`SDES items need a type in [1, 255] and at most 255 bytes; got type ${item.type} with ${item.data.length}`);
        }
        n += 2 + item.data.length;
      }
      bytes += (n + 4) & ~3; // at least one END byte
    }
    return frame(RTCP_PT.SDES, this.chunks.length, bytes, this.paddingBytes, (v, out) => {
      let i = RTCP_HEADER_BYTES;
      for (const c of this.chunks) {
        const start = i;
        v.setUint32(i, c.ssrc >>> 0);
        i += 4;
        for (const item of c.items) {
          out[i] = item.type;
          out[i + 1] = item.data.length;
          out.set(item.data, i + 2);
          i += 2 + item.data.length;
        }
        i = start + ((i - start + 4) & ~3); // END and nulls are already zero
      }
    });
  }
}

/** Goodbye, PT 203 (§6.6): the sources leaving, and an optional reason. */
export class Goodbye {
  readonly packetType = RTCP_PT.BYE;
  constructor(
    public ssrcs: number[],
    /** UTF-8 reason for leaving, at most 255 bytes; undefined for none. */
    public reason?: string,
    public paddingBytes = 0,
  ) {}

  static deSerialize(buf: Uint8Array): Goodbye {
    const s = split(buf, RTCP_PT.BYE);
    need(s, 4 * s.count, `a BYE with ${s.count} SSRCs`);
    const ssrcs: number[] = [];
    for (let i = 0; i < s.count; i++) ssrcs.push(s.view.getUint32(4 * i));
    let reason: string | undefined;
    const at = 4 * s.count;
    if (at < s.body.length) {
      const len = s.body[at];
      if (at + 1 + len > s.body.length) throw new RtpParseError('bad_length', `BYE reason declares ${len} bytes; ${s.body.length - at - 1} remain`);
      reason = utf8Decoder.decode(s.body.subarray(at + 1, at + 1 + len));
    }
    return new Goodbye(ssrcs, reason, s.paddingBytes);
  }

  serialize(): Uint8Array {
    const reason = this.reason === undefined ? undefined : utf8.encode(this.reason);
    if (reason && reason.length > 255) throw new TypeError(`a BYE reason is at most 255 bytes of UTF-8, got ${reason.length}`);
    const at = 4 * this.ssrcs.length;
    const bytes = reason ? (at + 1 + reason.length + 3) & ~3 : at;
    return frame(RTCP_PT.BYE, this.ssrcs.length, bytes, this.paddingBytes, (v, out) => {
      this.ssrcs.forEach((ssrc, i) => v.setUint32(RTCP_HEADER_BYTES + 4 * i, ssrc >>> 0));
      if (reason) {
        out[RTCP_HEADER_BYTES + at] = reason.length;
        out.set(reason, RTCP_HEADER_BYTES + at + 1);
      }
    });
  }
}

/** Any other packet type (APP, RTPFB, PSFB, XR, ...), kept as its count field and raw body. */
export class UnknownRtcp {
  constructor(
    readonly packetType: number,
    /** The 5-bit field after P: a count or a subtype, depending on the type. */
    public count: number,
    /** Body after the common header, padding excluded; a multiple of 4 bytes to serialize. */
    public body: Uint8Array,
    public paddingBytes = 0,
  ) {}

  static deSerialize(buf: Uint8Array): UnknownRtcp {
    const s = split(buf);
    return new UnknownRtcp(s.packetType, s.count, s.body, s.paddingBytes);
  }

  serialize(): Uint8Array {
    return frame(this.packetType, this.count, alignedLength(this.body.length, 'an RTCP body'), this.paddingBytes, (_v, out) => out.set(this.body, RTCP_HEADER_BYTES));
  }
}

export type RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | UnknownRtcp;

/** Parses the one packet that `buf` spans, choosing the class by packet type. */
export function deSerializeRtcp(buf: Uint8Array): RtcpPacket {
  switch (buf.length >= 2 ? buf[1] : -1) {
    case RTCP_PT.SR:
      return SenderReport.deSerialize(buf);
    case RTCP_PT.RR:
      return ReceiverReport.deSerialize(buf);
    case RTCP_PT.SDES:
      return SourceDescription.deSerialize(buf);
    case RTCP_PT.BYE:
      return Goodbye.deSerialize(buf);
    default:
      return UnknownRtcp.deSerialize(buf);
  }
}
