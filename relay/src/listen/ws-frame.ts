/**
 * A WebSocket binary message as it goes on the wire from a server (RFC 6455 §5.2): FIN set,
 * opcode 2, no mask, the payload length in 1, 2 or 8 bytes, then the payload, in one Buffer.
 *
 * The listen fan-out prepares each cluster or packet's frame once and writes the same Buffer
 * to every listener's socket. `ws.send` would build a header per socket and write header and
 * payload as two corked writes; `node --import tsx bench/socket-writes.ts` puts the prepared
 * frame 15-22 % below that per send (docs/PERFORMANCE.md).
 *
 * Writing frames beside ws is sound because the listen endpoint has no permessage-deflate
 * (server.ts): ws writes each of its own frames to the socket synchronously and whole, so
 * frames never interleave, and the relay writes audio only while the socket is OPEN (never
 * after ws has sent its close frame).
 */

const FIN_BINARY = 0x82;

/** The frame of one binary message carrying `payload`. */
export function wsBinaryFrame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const headerBytes = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerBytes + n);
  frame[0] = FIN_BINARY;
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  frame.set(payload, headerBytes);
  return frame;
}
