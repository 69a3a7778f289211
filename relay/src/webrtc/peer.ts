/**
 * The relay's side of a peer connection, as werift builds it: Opus only, no STUN or TURN
 * server (werift's default asks a public STUN server, which a relay must not do on its
 * own), and host candidates that include 127.0.0.1, so a browser or a test on the same
 * machine connects over loopback (werift leaves loopback out unless asked). The relay
 * answers; it never offers.
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';

/** RTP clock rate of Opus, Hz (RFC 7587: always 48000, whatever the audio's bandwidth). */
export const OPUS_RTP_CLOCK_HZ = 48_000;
/** The relay's egress packets: 20 ms, so 960 RTP clock ticks each. */
export const OPUS_TICKS_PER_MS = OPUS_RTP_CLOCK_HZ / 1000;

export function newPeerConnection(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    codecs: {
      // opus/48000/2 is how RTP names Opus whatever its channels (RFC 7587 §7); the
      // relay's mono packets are valid in it. FEC on: the relay's decoder can use it.
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: OPUS_RTP_CLOCK_HZ, channels: 2, parameters: 'minptime=10;useinbandfec=1' })],
    },
  });
}

/** Closes a peer connection and swallows what werift throws while tearing down sockets. */
export function closePeer(pc: RTCPeerConnection): void {
  pc.close().catch(() => undefined);
}
