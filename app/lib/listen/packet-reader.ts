/**
 * The low-latency player's edge: one binary message of `mode=packets` (protocol/frame.ts:
 * an 8-byte header, then one Opus packet) in, a typed packet out, with its sequence number
 * and media timestamp unwrapped into plain increasing numbers (the jitter buffer orders and
 * times frames without caring about the 16- and 32-bit wraps). One reader per connection:
 * a new socket starts its own numbering.
 */
import { CODEC_IDS, decodeFrame, sequenceDelta, timestampDeltaMs, type FrameErrorCode } from '../../../protocol/frame.ts';

export interface ListenPacket {
  /** Sequence number, unwrapped: the first packet's wire value, then +1 per packet. */
  seq: number;
  /** Media timestamp, ms, unwrapped the same way. */
  timestampMs: number;
  flags: number;
  /** The Opus packet: a view into the message, not a copy. */
  payload: Uint8Array;
}

export type ReadResult = { ok: true; packet: ListenPacket } | { ok: false; code: FrameErrorCode | 'not_opus' | 'empty_payload'; message: string };

export class PacketReader {
  private lastWireSeq = -1;
  private lastWireTs = 0;
  private seq = 0;
  private ts = 0;

  /** Parses one message. */
  read(message: Uint8Array): ReadResult {
    const f = decodeFrame(message);
    if (!f.ok) return f;
    const h = f.header;
    if (h.codec !== CODEC_IDS.opus) return { ok: false, code: 'not_opus', message: `codec id ${h.codec} on a listen socket; the relay sends Opus (${CODEC_IDS.opus})` };
    if (f.payload.length === 0) return { ok: false, code: 'empty_payload', message: 'a frame without an Opus packet' };
    if (this.lastWireSeq < 0) {
      this.seq = h.sequence;
      this.ts = h.timestampMs;
    } else {
      this.seq += sequenceDelta(this.lastWireSeq, h.sequence);
      this.ts += timestampDeltaMs(this.lastWireTs, h.timestampMs);
    }
    this.lastWireSeq = h.sequence;
    this.lastWireTs = h.timestampMs;
    return { ok: true, packet: { seq: this.seq, timestampMs: this.ts, flags: h.flags, payload: f.payload } };
  }

  /** A new connection: the next packet starts the numbering again. */
  reset(): void {
    this.lastWireSeq = -1;
  }
}
