/**
 * The little of SDP (RFC 4566) an RTP sender's offer needs to be understood, and the answer
 * (RFC 3264) the relay gives: one audio stream, received only.
 *
 * From the offer: the first `m=audio` section over RTP/AVP (or RTP/AVPF), its payload types
 * in order of preference with their `a=rtpmap` (static types 0, 8 and 9 need none), `a=fmtp`
 * and `a=ptime`, and the direction. The call id comes from an `a=call-id:` attribute (session
 * or media level) when the offer has one: nothing standard carries a SIP Call-ID in SDP, and
 * the origin's sess-id names the SDP session, not the call, so it is not taken as one. The
 * session name (`s=`) becomes the label unless it is the conventional "-".
 */
import { RTP_CODEC_SPECS, RTP_CODECS, type RtpCodec } from '../../../protocol/rtp.ts';

export interface SdpOffer {
  codec: RtpCodec;
  payloadType: number;
  clockRate: number;
  channels: number;
  ptimeMs: number | null;
  fmtp: string | null;
  callId: string | null;
  sessionName: string | null;
}

export type SdpResult = { ok: true; offer: SdpOffer } | { ok: false; message: string };

interface MediaSection {
  port: number;
  proto: string;
  formats: number[];
  attributes: string[];
}

const fail = (message: string): SdpResult => ({ ok: false, message });

function attribute(attributes: readonly string[], name: string): string[] {
  const prefix = `${name}:`;
  return attributes.filter((a) => a.toLowerCase().startsWith(prefix)).map((a) => a.slice(prefix.length).trim());
}

/** Parses an offer and picks the first of its audio formats the relay takes. */
export function parseSdpOffer(text: string): SdpResult {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
  if (lines.length === 0 || !/^v=0$/.test(lines[0])) return fail('an SDP offer starts with "v=0" (RFC 4566 §5.1)');
  const sessionAttributes: string[] = [];
  let sessionName: string | null = null;
  let media: MediaSection | null = null;
  let current: MediaSection | null = null;
  let sawMedia = false;
  for (const [i, line] of lines.entries()) {
    if (!/^[a-z]=/.test(line)) return fail(`SDP line ${i + 1} is not "<type>=<value>": ${JSON.stringify(line.slice(0, 80))}`);
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      sawMedia = true;
      const m = /^(\w+) (\d+)(?:\/\d+)? (\S+) ([\d ]+)$/.exec(value);
      current = null;
      if (m === null || m[1] !== 'audio') continue;
      if (media !== null) continue; // the first audio section is the stream
      current = { port: Number(m[2]), proto: m[3], formats: m[4].trim().split(/ +/).map(Number), attributes: [] };
      media = current;
    } else if (type === 'a') {
      if (!sawMedia) sessionAttributes.push(value);
      else current?.attributes.push(value);
    } else if (type === 's' && !sawMedia) {
      sessionName = value.trim() === '-' || value.trim() === '' ? null : value.trim();
    }
  }
  if (media === null) return fail('the SDP offer has no "m=audio <port> RTP/AVP <formats>" line');
  if (!/^RTP\/AVPF?$/.test(media.proto)) return fail(`the audio stream's transport is ${media.proto}; the relay takes plain RTP/AVP (no SRTP, no DTLS)`);
  const all = [...sessionAttributes, ...media.attributes];
  const direction = all.find((a) => /^(sendrecv|sendonly|recvonly|inactive)$/.test(a)) ?? 'sendrecv';
  if (direction === 'recvonly' || direction === 'inactive') return fail(`the offer's audio is ${direction}; the relay only receives, so the sender must send (sendonly or sendrecv)`);

  const rtpmaps = new Map<number, { encoding: string; clockRate: number; channels: number }>();
  for (const v of attribute(media.attributes, 'rtpmap')) {
    const m = /^(\d+) ([\w.-]+)\/(\d+)(?:\/(\d+))?$/.exec(v);
    if (m !== null) rtpmaps.set(Number(m[1]), { encoding: m[2], clockRate: Number(m[3]), channels: m[4] === undefined ? 1 : Number(m[4]) });
  }
  const fmtps = new Map<number, string>();
  for (const v of attribute(media.attributes, 'fmtp')) {
    const m = /^(\d+) (.*)$/.exec(v);
    if (m !== null) fmtps.set(Number(m[1]), m[2]);
  }
  const ptimeText = attribute(all, 'ptime')[0];
  const ptimeMs = ptimeText !== undefined && /^\d+(\.\d+)?$/.test(ptimeText) ? Math.round(Number(ptimeText)) : null;
  const callIdText = attribute(all, 'call-id')[0];
  const callId = callIdText !== undefined && /^[\x21-\x7e]{1,256}$/.test(callIdText) ? callIdText : null;

  for (const pt of media.formats) {
    const map = rtpmaps.get(pt);
    for (const codec of RTP_CODECS) {
      const spec = RTP_CODEC_SPECS[codec];
      const matches =
        map !== undefined
          ? map.encoding.toLowerCase() === spec.encoding.toLowerCase() && map.clockRate === spec.clockRate
          : spec.staticPayloadType === pt;
      if (!matches) continue;
      if (spec.staticPayloadType === null && (pt < 96 || pt > 127)) continue;
      return {
        ok: true,
        offer: { codec, payloadType: pt, clockRate: spec.clockRate, channels: map?.channels ?? spec.channels, ptimeMs, fmtp: fmtps.get(pt) ?? null, callId, sessionName },
      };
    }
  }
  const offered = media.formats.map((pt) => {
    const map = rtpmaps.get(pt);
    return map === undefined ? String(pt) : `${pt} ${map.encoding}/${map.clockRate}`;
  });
  return fail(`none of the offered formats (${offered.join(', ')}) is one the relay takes: opus/48000/2 (dynamic), PCMU/8000 (0), PCMA/8000 (8), G722/8000 (9)`);
}

export interface SdpAnswer {
  host: string;
  port: number;
  rtcpPort: number;
  sessionId: string;
  offer: SdpOffer;
}

/** The answer: the chosen format only, received only, our ports (RFC 3264 §6). */
export function buildSdpAnswer(a: SdpAnswer): string {
  const { offer } = a;
  const spec = RTP_CODEC_SPECS[offer.codec];
  const family = a.host.includes(':') ? 'IP6' : 'IP4';
  const rtpmap = `${spec.encoding}/${spec.clockRate}${offer.codec === 'opus' ? `/${offer.channels}` : ''}`;
  const lines = [
    'v=0',
    `o=tapwire ${Date.now()} 1 IN ${family} ${a.host}`,
    's=Tapwire',
    `c=IN ${family} ${a.host}`,
    't=0 0',
    `m=audio ${a.port} RTP/AVP ${offer.payloadType}`,
    `a=rtpmap:${offer.payloadType} ${rtpmap}`,
    ...(offer.fmtp !== null ? [`a=fmtp:${offer.payloadType} ${offer.fmtp}`] : []),
    ...(offer.ptimeMs !== null ? [`a=ptime:${offer.ptimeMs}`] : []),
    `a=rtcp:${a.rtcpPort}`,
    'a=recvonly',
    `a=tapwire-session:${a.sessionId}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}
