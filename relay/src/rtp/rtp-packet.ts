/**
 * An RTP data packet (RFC 3550 §5.1), version 2 only:
 *
 *    0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            contributing source (CSRC) identifiers  (CC x 32)  |
 *   | [profile-defined 16 | length in 32-bit words 16 | data ...]   (X, §5.3.1)
 *   | payload ... [padding ... | count]                              (P)
 *
 * Parsing keeps views into the input (payload, extension data), no copies: copy them before
 * the datagram buffer is reused. The header extension stays raw (profile + data); see
 * header-extension.ts for the RFC 8285 elements.
 */
import { RtpParseError } from './errors.ts';
import { type HeaderExtensionElement, parseHeaderExtensions } from './header-extension.ts';

export const RTP_VERSION = 2;
export const RTP_FIXED_HEADER_BYTES = 12;
const MAX_CSRCS = 15;

export interface RtpHeaderExtension {
  /** The 16-bit "defined by profile" field: 0xBEDE / 0x100X for the RFC 8285 forms. */
  profile: number;
  /** Extension data; its length is a multiple of 4 on the wire. */
  data: Uint8Array;
}

export interface RtpPacketInit {
  marker?: boolean;
  /** 7 bits (§5.1). */
  payloadType: number;
  /** 16 bits. */
  sequenceNumber: number;
  /** 32 bits, in the payload's clock units. */
  timestamp: number;
  ssrc: number;
  /** At most 15 (CC is 4 bits). */
  csrcs?: number[];
  extension?: RtpHeaderExtension;
  payload: Uint8Array;
  /** Padding bytes after the payload, count byte included; 0 for none. Written as zeros then the count. */
  paddingBytes?: number;
}

export class RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  extension: RtpHeaderExtension | undefined;
  payload: Uint8Array;
  paddingBytes: number;

  constructor(init: RtpPacketInit) {
    this.marker = init.marker ?? false;
    this.payloadType = init.payloadType;
    this.sequenceNumber = init.sequenceNumber;
    this.timestamp = init.timestamp;
    this.ssrc = init.ssrc;
    this.csrcs = init.csrcs ?? [];
    this.extension = init.extension;
    this.payload = init.payload;
    this.paddingBytes = init.paddingBytes ?? 0;
  }

  /** Header bytes: fixed part, CSRCs and the extension block. */
  get headerBytes(): number {
    return RTP_FIXED_HEADER_BYTES + 4 * this.csrcs.length + (this.extension ? 4 + ((this.extension.data.length + 3) & ~3) : 0);
  }

  /** The RFC 8285 elements of the header extension; [] without one. Throws RtpParseError('bad_extension') for another profile. */
  headerExtensions(): HeaderExtensionElement[] {
    return this.extension ? parseHeaderExtensions(this.extension.profile, this.extension.data) : [];
  }

  /** Parses one RTP datagram. Throws RtpParseError on malformed input. */
  static deSerialize(buf: Uint8Array): RtpPacket {
    if (buf.length < RTP_FIXED_HEADER_BYTES) {
      throw new RtpParseError('too_short', `RTP packet is ${buf.length} bytes; the fixed header needs ${RTP_FIXED_HEADER_BYTES}`);
    }
    const version = buf[0] >> 6;
    if (version !== RTP_VERSION) {
      throw new RtpParseError('bad_version', `RTP version is ${version}; expected ${RTP_VERSION}`);
    }
    const hasPadding = (buf[0] & 0x20) !== 0;
    const hasExtension = (buf[0] & 0x10) !== 0;
    const csrcCount = buf[0] & 0x0f;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let offset = RTP_FIXED_HEADER_BYTES;
    if (offset + 4 * csrcCount > buf.length) {
      throw new RtpParseError('csrc_overflow', `CSRC count ${csrcCount} needs ${offset + 4 * csrcCount} header bytes; the packet has ${buf.length}`);
    }
    const csrcs: number[] = [];
    for (let i = 0; i < csrcCount; i++, offset += 4) csrcs.push(view.getUint32(offset));
    let extension: RtpHeaderExtension | undefined;
    if (hasExtension) {
      if (offset + 4 > buf.length) {
        throw new RtpParseError('bad_extension', `X bit set but only ${buf.length - offset} bytes follow the CSRCs; the extension header needs 4`);
      }
      const profile = view.getUint16(offset);
      const dataBytes = 4 * view.getUint16(offset + 2);
      offset += 4;
      if (offset + dataBytes > buf.length) {
        throw new RtpParseError('bad_extension', `header extension declares ${dataBytes} bytes; only ${buf.length - offset} follow`);
      }
      extension = { profile, data: buf.subarray(offset, offset + dataBytes) };
      offset += dataBytes;
    }
    let end = buf.length;
    let paddingBytes = 0;
    if (hasPadding) {
      paddingBytes = buf[buf.length - 1];
      if (paddingBytes === 0 || paddingBytes > buf.length - offset) {
        throw new RtpParseError('bad_padding', `padding count is ${paddingBytes}; expected 1 to ${buf.length - offset}, the bytes after the ${offset}-byte header`);
      }
      end -= paddingBytes;
    }
    return new RtpPacket({
      marker: (buf[1] & 0x80) !== 0,
      payloadType: buf[1] & 0x7f,
      sequenceNumber: view.getUint16(2),
      timestamp: view.getUint32(4),
      ssrc: view.getUint32(8),
      csrcs,
      extension,
      payload: buf.subarray(offset, end),
      paddingBytes,
    });
  }

  /** A new buffer holding the packet. Throws TypeError for a field out of range. */
  serialize(): Uint8Array {
    if (this.csrcs.length > MAX_CSRCS) throw new TypeError(`at most ${MAX_CSRCS} CSRCs fit in CC; got ${this.csrcs.length}`);
    if (!Number.isInteger(this.payloadType) || this.payloadType < 0 || this.payloadType > 127) {
      throw new TypeError(`payloadType must be in [0, 127], got ${this.payloadType}`);
    }
    if (!Number.isInteger(this.paddingBytes) || this.paddingBytes < 0 || this.paddingBytes > 255) {
      throw new TypeError(`paddingBytes must be in [0, 255], got ${this.paddingBytes}`);
    }
    if (this.extension && this.extension.data.length > 4 * 0xffff) {
      throw new TypeError(`extension data is ${this.extension.data.length} bytes; at most ${4 * 0xffff} fit`);
    }
    const header = this.headerBytes;
    const out = new Uint8Array(header + this.payload.length + this.paddingBytes);
    const view = new DataView(out.buffer);
    out[0] = (RTP_VERSION << 6) | (this.paddingBytes > 0 ? 0x20 : 0) | (this.extension ? 0x10 : 0) | this.csrcs.length;
    out[1] = (this.marker ? 0x80 : 0) | this.payloadType;
    view.setUint16(2, this.sequenceNumber & 0xffff);
    view.setUint32(4, this.timestamp >>> 0);
    view.setUint32(8, this.ssrc >>> 0);
    let offset = RTP_FIXED_HEADER_BYTES;
    for (const c of this.csrcs) {
      view.setUint32(offset, c >>> 0);
      offset += 4;
    }
    if (this.extension) {
      const words = (this.extension.data.length + 3) >> 2;
      view.setUint16(offset, this.extension.profile);
      view.setUint16(offset + 2, words);
      out.set(this.extension.data, offset + 4);
      offset += 4 + 4 * words;
    }
    out.set(this.payload, offset);
    if (this.paddingBytes > 0) out[out.length - 1] = this.paddingBytes;
    return out;
  }
}
