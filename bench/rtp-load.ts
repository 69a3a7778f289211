/**
 * Simulated RTP senders for the station benchmark (bench/stations.ts `--transports rtp`):
 * each opens an RTP session on the relay (`POST /api/rtp/sessions`, docs/RTP.md) and sends
 * its Opus packets over UDP, paced in real time like the WebSocket field testers of
 * relay/src/sim/simulator.ts. One UDP socket sends for every station: each session has its
 * own port on the relay, and locks to the first source it hears, which this socket is.
 */
import { createSocket, type Socket } from 'node:dgram';
import { RtpPacket } from '../relay/src/rtp/rtp-packet.ts';
import type { EncodedAudio } from '../relay/src/sim/simulator.ts';

/** The dynamic payload type the senders use for Opus (RFC 7587: any of 96-127). */
const OPUS_PAYLOAD_TYPE = 111;
/** RTP ticks per ms for Opus (its RTP clock is 48 kHz whatever the audio's rate, RFC 7587 §4.1). */
const OPUS_TICKS_PER_MS = 48;

interface Sender {
  sessionId: string;
  port: number;
  ssrc: number;
  /** The next frame's number; frame n is due at t0 + n · frameMs. */
  next: number;
  /** Spreads the senders' packets over one frame period. */
  offsetMs: number;
  /** Set by the first pump; -1 before. */
  t0: number;
}

export class RtpLoad {
  private readonly senders: Sender[] = [];
  framesSent = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly audio: EncodedAudio,
  ) {}

  /** Opens `n` sessions, their first packets due `offsetMs(i)` after the first pump. */
  static async open(baseUrl: string, token: string, audio: EncodedAudio, n: number, label: string): Promise<RtpLoad> {
    if (audio.codec !== 'opus') throw new TypeError(`the RTP load sends Opus, got ${audio.codec}`);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const load = new RtpLoad(socket, baseUrl, token, audio);
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${baseUrl}/api/rtp/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ codec: 'opus', payload_type: OPUS_PAYLOAD_TYPE, label: `${label}-${i}` }),
      });
      const body = (await r.json()) as { port?: number; session_id?: string; message?: string };
      if (r.status !== 201 || body.port === undefined || body.session_id === undefined) {
        socket.close();
        throw new Error(`opening RTP session ${i}: ${r.status} ${body.message ?? ''}`);
      }
      load.senders.push({ sessionId: body.session_id, port: body.port, ssrc: (0x5000_0000 + i) >>> 0, next: 0, offsetMs: (i * audio.frameMs) / n, t0: -1 });
    }
    return load;
  }

  /** Sends every packet that is due at `nowMs` (performance.now()). */
  pump(nowMs: number): void {
    const { packets, frameMs } = this.audio;
    for (const s of this.senders) {
      if (s.t0 < 0) s.t0 = nowMs + s.offsetMs;
      while (s.t0 + s.next * frameMs <= nowMs) {
        const n = s.next++;
        const packet = new RtpPacket({
          payloadType: OPUS_PAYLOAD_TYPE,
          sequenceNumber: n & 0xffff,
          timestamp: (n * frameMs * OPUS_TICKS_PER_MS) >>> 0,
          ssrc: s.ssrc,
          payload: packets[n % packets.length],
        }).serialize();
        this.socket.send(packet, s.port, '127.0.0.1');
        this.framesSent++;
      }
    }
  }

  /** Closes every session (the relay sends its BYE and ends the stations) and the socket. */
  async close(): Promise<void> {
    await Promise.all(
      this.senders.map((s) => fetch(`${this.baseUrl}/api/rtp/sessions/${s.sessionId}`, { method: 'DELETE', headers: { authorization: `Bearer ${this.token}` } }).catch(() => undefined)),
    );
    this.socket.close();
  }
}
