/**
 * Compound RTCP datagrams (RFC 3550 §6.1): packets stacked back to back, each with its own
 * length field, checked as Appendix A.2 suggests: every packet version 2, the first an SR or
 * RR, padding only in the last, and the lengths adding up to the datagram exactly.
 */
import { RtpParseError } from './errors.ts';
import { RTCP_HEADER_BYTES, RTCP_PT, RTCP_VERSION, type RtcpPacket, deSerializeRtcp } from './rtcp-packet.ts';

/** Splits a datagram into its packets, each parsed by type. Throws RtpParseError. */
export function parseCompound(buf: Uint8Array): RtcpPacket[] {
  if (buf.length < RTCP_HEADER_BYTES) {
    throw new RtpParseError('too_short', `RTCP datagram is ${buf.length} bytes; a packet needs at least the ${RTCP_HEADER_BYTES}-byte header`);
  }
  const first = buf[1];
  if (first !== RTCP_PT.SR && first !== RTCP_PT.RR) {
    throw new RtpParseError('bad_compound', `a compound RTCP packet starts with packet type ${first}; it must start with SR (200) or RR (201)`);
  }
  const packets: RtcpPacket[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (offset + RTCP_HEADER_BYTES > buf.length) {
      throw new RtpParseError('bad_length', `${buf.length - offset} bytes are left at offset ${offset}; the lengths must add up to the ${buf.length}-byte datagram`);
    }
    const version = buf[offset] >> 6;
    if (version !== RTCP_VERSION) {
      throw new RtpParseError('bad_version', `RTCP packet ${packets.length} (offset ${offset}) has version ${version}; expected ${RTCP_VERSION}`);
    }
    const bytes = 4 * (((buf[offset + 2] << 8) | buf[offset + 3]) + 1);
    if (offset + bytes > buf.length) {
      throw new RtpParseError('bad_length', `RTCP packet ${packets.length} at offset ${offset} declares ${bytes} bytes; the datagram has ${buf.length - offset} left`);
    }
    if (buf[offset] & 0x20 && offset + bytes !== buf.length) {
      throw new RtpParseError('bad_compound', `RTCP packet ${packets.length} at offset ${offset} is padded; only the last packet of a compound may be`);
    }
    packets.push(deSerializeRtcp(buf.subarray(offset, offset + bytes)));
    offset += bytes;
  }
  return packets;
}

/**
 * One datagram holding `packets` in order. Refuses (TypeError) what parseCompound would:
 * an empty list, a first packet other than SR/RR, padding before the last packet.
 */
export function serializeCompound(packets: readonly RtcpPacket[]): Uint8Array {
  if (packets.length === 0) throw new TypeError('a compound RTCP packet needs at least one packet');
  const firstType = packets[0].packetType;
  if (firstType !== RTCP_PT.SR && firstType !== RTCP_PT.RR) {
    throw new TypeError(`a compound RTCP packet must start with SR (200) or RR (201), got ${firstType}`);
  }
  const parts = packets.map((p, i) => {
    if (p.paddingBytes > 0 && i !== packets.length - 1) throw new TypeError(`packet ${i} is padded; only the last packet of a compound may be`);
    return p.serialize();
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
