/**
 * The SDP the WHIP and WHEP routes take and give, checked at the edge before werift sees it:
 * an offer must be SDP with an audio m-section that offers Opus at 48 kHz in the direction
 * the route serves. The checks are ours so that a bad offer gets a 400 that says what was
 * wrong, instead of whatever werift throws.
 *
 * Offers are also cleaned: mDNS host candidates (`<uuid>.local`, what browsers put in place
 * of their private addresses) are dropped, since the relay resolves no mDNS names and would
 * only waste checks on them. Answers get `useinbandfec=1` on the Opus fmtp line: the sender
 * may then put forward error correction in its packets (RFC 7587 §7).
 */

/** Longest offer accepted, bytes: a browser's audio-only offer is 2-5 KiB. */
export const MAX_OFFER_BYTES = 64 * 1024;

export type OfferDirection = 'send' | 'receive';

export type OfferCheck =
  | { ok: true; sdp: string; opusPayloadType: number; droppedCandidates: number }
  | { ok: false; message: string };

/**
 * Checks an offer: `send` for WHIP (the client sends audio: sendonly or sendrecv), `receive`
 * for WHEP (the client receives: recvonly or sendrecv). Returns the cleaned offer.
 */
export function checkOffer(body: string, direction: OfferDirection): OfferCheck {
  if (body.length === 0) return { ok: false, message: 'the body is empty: send an SDP offer (Content-Type: application/sdp)' };
  if (body.length > MAX_OFFER_BYTES) return { ok: false, message: `the offer is over ${MAX_OFFER_BYTES} bytes` };
  const lines = body.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') return { ok: false, message: 'the body is not an SDP offer: it must start with "v=0"' };
  const sections = splitSections(lines);
  const audio = sections.media.find((m) => m.line.startsWith('m=audio '));
  if (audio === undefined) return { ok: false, message: 'the offer has no audio m-section ("m=audio ..."): offer an audio track' };
  const opusPayloadType = findOpus(audio.lines);
  if (opusPayloadType === null) return { ok: false, message: 'the audio m-section offers no Opus at 48000 Hz ("a=rtpmap:<pt> opus/48000/2"): the relay takes Opus only' };
  const wrong = direction === 'send' ? ['recvonly', 'inactive'] : ['sendonly', 'inactive'];
  const said = audio.lines.find((l) => ['a=sendonly', 'a=recvonly', 'a=sendrecv', 'a=inactive'].includes(l)) ?? sections.session.find((l) => ['a=sendonly', 'a=recvonly', 'a=sendrecv', 'a=inactive'].includes(l));
  if (said !== undefined && wrong.includes(said.slice(2))) {
    const want = direction === 'send' ? 'sendonly or sendrecv (WHIP publishes audio)' : 'recvonly or sendrecv (WHEP plays audio)';
    return { ok: false, message: `the audio m-section is ${said.slice(2)}; it must be ${want}` };
  }
  if (!audio.lines.some((l) => l.startsWith('a=ice-ufrag:')) && !sections.session.some((l) => l.startsWith('a=ice-ufrag:'))) {
    return { ok: false, message: 'the offer has no ICE credentials ("a=ice-ufrag:")' };
  }
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) return { ok: false, message: 'the offer has no DTLS fingerprint ("a=fingerprint:"): WebRTC media is DTLS-SRTP' };
  let droppedCandidates = 0;
  const kept = lines.filter((l) => {
    if (!isMdnsCandidate(l)) return true;
    droppedCandidates++;
    return false;
  });
  return { ok: true, sdp: `${kept.join('\r\n')}\r\n`, opusPayloadType, droppedCandidates };
}

/** The answer as sent: `useinbandfec=1` on the fmtp of every Opus payload type. */
export function withInbandFec(answer: string): string {
  const lines = answer.split(/\r?\n/);
  const opus = new Set<string>();
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    if (m) opus.add(m[1]);
  }
  const withFmtp = new Set<string>();
  const out = lines.map((l) => {
    const m = /^a=fmtp:(\d+) (.*)$/.exec(l);
    if (m === null || !opus.has(m[1])) return l;
    withFmtp.add(m[1]);
    const params = m[2].split(';').filter((p) => p.length > 0 && !/^useinbandfec=/i.test(p.trim()));
    return `a=fmtp:${m[1]} ${[...params, 'useinbandfec=1'].join(';')}`;
  });
  // An Opus payload type with no fmtp line at all gets one after its rtpmap.
  const final: string[] = [];
  for (const l of out) {
    final.push(l);
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    if (m && !withFmtp.has(m[1])) final.push(`a=fmtp:${m[1]} useinbandfec=1`);
  }
  return final.join('\r\n');
}

/** The payload type the answer gives Opus, or null. */
export function opusPayloadTypeOf(sdp: string): number | null {
  return findOpus(sdp.split(/\r?\n/));
}

function findOpus(lines: readonly string[]): number | null {
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000(\/\d+)?\s*$/i.exec(l);
    if (m) return Number(m[1]);
  }
  return null;
}

/** `a=candidate:<foundation> <component> <transport> <priority> <address> ...` whose address is a `.local` name. */
function isMdnsCandidate(line: string): boolean {
  if (!line.startsWith('a=candidate:')) return false;
  const address = line.split(' ')[4];
  return address !== undefined && address.toLowerCase().endsWith('.local');
}

function splitSections(lines: readonly string[]): { session: string[]; media: { line: string; lines: string[] }[] } {
  const session: string[] = [];
  const media: { line: string; lines: string[] }[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) media.push({ line: l, lines: [] });
    else if (media.length > 0) media[media.length - 1].lines.push(l);
    else session.push(l);
  }
  return { session, media };
}
