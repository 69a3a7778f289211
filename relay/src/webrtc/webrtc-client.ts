/**
 * A WHIP publisher and a WHEP player made of werift peer connections, for tests and
 * benchmarks: what a WebRTC client does, over real UDP on 127.0.0.1, against a real relay.
 * The publisher sends Opus packets it is given, one each 20 ms; the player keeps the RTP
 * packets it receives.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';

export interface SdpExchange {
  status: number;
  location: string | null;
  headers: Headers;
  /** The answer, or the error body. */
  text: string;
}

/** Chromium's payload type for Opus: the relay must answer with the one offered. */
export const CHROMIUM_OPUS_PT = 111;

export function clientPeer(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: CHROMIUM_OPUS_PT, parameters: 'minptime=10' })] },
  });
}

export async function postSdp(url: string, sdp: string, token?: string, contentType = 'application/sdp'): Promise<SdpExchange> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const r = await fetch(url, { method: 'POST', headers, body: sdp });
  return { status: r.status, location: r.headers.get('location'), headers: r.headers, text: await r.text() };
}

/** The offer a werift peer makes, with its candidates gathered. */
export async function gatheredOffer(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  return (pc.localDescription as { sdp: string }).sdp;
}

export class WhipPublisher {
  readonly pc = clientPeer();
  private readonly sender: RTCRtpSender;
  exchange: SdpExchange | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sequence = 1000;
  private timestamp = 123_456;
  sent = 0;

  constructor() {
    this.sender = this.pc.addTransceiver('audio', { direction: 'sendonly' }).sender;
  }

  /** POSTs the offer; on 201, sets the answer and waits for the connection. */
  async publish(url: string, token?: string): Promise<SdpExchange> {
    const ex = await postSdp(url, await gatheredOffer(this.pc), token);
    this.exchange = ex;
    if (ex.status !== 201) return ex;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: ex.text });
    await waitConnected(this.pc);
    return ex;
  }

  /** Sends the packets `next` makes (20 ms of Opus each) in real time until stopped. */
  stream(next: () => Uint8Array): void {
    const startMs = performance.now();
    const first = this.sent;
    this.timer = setInterval(() => {
      const due = first + Math.floor((performance.now() - startMs) / 20) + 1;
      while (this.sent < due) this.sendPacket(next());
    }, 5);
  }

  sendPacket(data: Uint8Array): void {
    const header = new RtpHeader({ sequenceNumber: this.sequence & 0xffff, timestamp: this.timestamp >>> 0, payloadType: CHROMIUM_OPUS_PT });
    this.sequence++;
    this.timestamp += 960;
    this.sent++;
    void this.sender.sendRtp(new RtpPacket(header, Buffer.from(data)));
  }

  stopStreaming(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stopStreaming();
    await this.pc.close().catch(() => undefined);
  }
}

export class WhepPlayer {
  readonly pc = clientPeer();
  readonly packets: RtpPacket[] = [];
  exchange: SdpExchange | null = null;

  constructor() {
    this.pc.addTransceiver('audio', { direction: 'recvonly' });
    this.pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.packets.push(rtp)));
  }

  async play(url: string): Promise<SdpExchange> {
    const ex = await postSdp(url, await gatheredOffer(this.pc));
    this.exchange = ex;
    if (ex.status !== 201) return ex;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: ex.text });
    await waitConnected(this.pc);
    return ex;
  }

  async close(): Promise<void> {
    await this.pc.close().catch(() => undefined);
  }
}

export async function waitConnected(pc: RTCPeerConnection, timeoutMs = 10_000): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no WebRTC connection within ${timeoutMs} ms (state ${pc.connectionState})`)), timeoutMs);
    const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
      if (state !== 'connected') return;
      clearTimeout(timer);
      unSubscribe();
      resolve();
    });
  });
}
