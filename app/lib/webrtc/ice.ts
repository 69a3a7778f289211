/**
 * What the app's peer connections share: no STUN or TURN server (the relay is on loopback or
 * the LAN, and a page must not contact a public server on its own), and non-trickle ICE:
 * the offer is sent once gathering is complete, so it carries every candidate and a WHIP or
 * WHEP exchange is one POST.
 */

/** RTCPeerConnection settings for a relay on loopback or the LAN. */
export const PEER_CONFIG: RTCConfiguration = { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };

/** Host candidates gather in milliseconds; past this the offer goes with what it has, ms. */
export const ICE_GATHER_TIMEOUT_MS = 3000;

/** Resolves once `pc` has gathered every candidate, or after `timeoutMs` (then with what it has). */
export function iceGatheringComplete(pc: RTCPeerConnection, timeoutMs = ICE_GATHER_TIMEOUT_MS): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const check = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    // A null candidate is the end-of-candidates signal, sometimes before the state changes.
    const onCandidate = (e: RTCPeerConnectionIceEvent): void => {
      if (e.candidate === null) done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', onCandidate);
  });
}
