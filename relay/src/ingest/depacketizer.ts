/**
 * The seam every transport plugs into: a depacketizer turns what arrives on the wire into
 * packets (seed 004's header fields and a payload), and the transport pushes them into its
 * station's handle. The station's stages never see a transport. A new transport (RTP,
 * WebRTC, a telephony WebSocket) is a depacketizer plus the owner of a handle.
 */
import type { FrameHeader } from '../../../protocol/frame.ts';

/** One media packet, as every transport hands it to a station. */
export interface Packet extends FrameHeader {
  payload: Uint8Array;
}

export type Depacketized = { ok: true; packet: Packet } | { ok: false; code: string; message: string };

export interface Depacketizer<Message> {
  depacketize(message: Message): Depacketized;
}
