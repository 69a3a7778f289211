/**
 * Binary ingest frames (seed 004 §1.4, protocol/frame.ts): the 8-byte header carries the
 * sender's timestamp, sequence number, codec and flags; the rest is the payload.
 */
import { decodeFrame } from '../../../protocol/frame.ts';
import type { Depacketized, Depacketizer } from './depacketizer.ts';

export class FrameDepacketizer implements Depacketizer<Uint8Array> {
  depacketize(message: Uint8Array): Depacketized {
    const frame = decodeFrame(message);
    if (!frame.ok) return frame;
    return { ok: true, packet: { ...frame.header, payload: frame.payload } };
  }
}
