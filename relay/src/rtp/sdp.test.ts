import { describe, expect, it } from 'vitest';
import { buildSdpAnswer, parseSdpOffer } from './sdp.ts';

const sdp = (...lines: string[]): string => `${lines.join('\r\n')}\r\n`;
const HEAD = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];

function offer(text: string) {
  const r = parseSdpOffer(text);
  if (!r.ok) throw new Error(r.message);
  return r.offer;
}

function refusal(text: string): string {
  const r = parseSdpOffer(text);
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.offer)}`);
  return r.message;
}

describe('parseSdpOffer', () => {
  it('takes the first format it knows, in the offer\'s order, with its rtpmap, fmtp and ptime', () => {
    const o = offer(sdp(...HEAD, 'm=audio 49170 RTP/AVP 18 101 9 0', 'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:30', 'a=sendrecv'));
    expect(o).toEqual({ codec: 'g722', payloadType: 9, clockRate: 8000, channels: 1, ptimeMs: 30, fmtp: null, callId: null, sessionName: null });
  });

  it('reads a dynamic Opus type, any case, LF line ends, session-level attributes', () => {
    const text = ['v=0', 's=Desk 4', 'a=call-id:abc@host', 'a=sendonly', 'm=audio 5004 RTP/AVP 109', 'a=rtpmap:109 OPUS/48000/2', 'a=fmtp:109 useinbandfec=1', ''].join('\n');
    expect(offer(text)).toEqual({ codec: 'opus', payloadType: 109, clockRate: 48000, channels: 2, ptimeMs: null, fmtp: 'useinbandfec=1', callId: 'abc@host', sessionName: 'Desk 4' });
  });

  it('takes the first audio section only, skipping video before it', () => {
    const o = offer(sdp(...HEAD, 'm=video 5006 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'm=audio 5004 RTP/AVP 8', 'm=audio 5008 RTP/AVP 0'));
    expect(o.codec).toBe('pcma');
  });

  it('does not take an rtpmap that renames a static type, nor Opus on a static type or at another clock', () => {
    expect(refusal(sdp(...HEAD, 'm=audio 5004 RTP/AVP 0', 'a=rtpmap:0 G729/8000'))).toMatch(/none of the offered formats \(0 G729\/8000\)/);
    expect(refusal(sdp(...HEAD, 'm=audio 5004 RTP/AVP 5', 'a=rtpmap:5 opus/48000/2'))).toMatch(/none of the offered formats/);
    expect(refusal(sdp(...HEAD, 'm=audio 5004 RTP/AVP 100', 'a=rtpmap:100 opus/16000'))).toMatch(/100 opus\/16000/);
    // G722/16000 is the common mistake: RFC 3551 says 8000.
    expect(refusal(sdp(...HEAD, 'm=audio 5004 RTP/AVP 9', 'a=rtpmap:9 G722/16000'))).toMatch(/G722\/8000 \(9\)/);
  });

  it.each([
    ['an empty body', '', /starts with "v=0"/],
    ['a line that is not type=value', sdp('v=0', 'garbage'), /line 2 is not "<type>=<value>"/],
    ['no audio', sdp(...HEAD, 'm=video 5000 RTP/AVP 96'), /no "m=audio/],
    ['DTLS-SRTP', sdp(...HEAD, 'm=audio 5000 UDP/TLS/RTP/SAVPF 111'), /UDP\/TLS\/RTP\/SAVPF; the relay takes plain RTP\/AVP/],
    ['inactive', sdp(...HEAD, 'm=audio 5000 RTP/AVP 0', 'a=inactive'), /inactive; the relay only receives/],
  ])('refuses %s, saying why', (_what, text, message) => {
    expect(refusal(text)).toMatch(message);
  });

  it('leaves out a call id with spaces or over 256 characters', () => {
    expect(offer(sdp(...HEAD, 'a=call-id:two words', 'm=audio 5004 RTP/AVP 0')).callId).toBeNull();
    expect(offer(sdp(...HEAD, `a=call-id:${'x'.repeat(257)}`, 'm=audio 5004 RTP/AVP 0')).callId).toBeNull();
  });
});

describe('buildSdpAnswer', () => {
  it('answers the chosen format only, received only, with our ports, and parses as an offer would', () => {
    const o = offer(sdp(...HEAD, 'm=audio 5004 RTP/AVP 111 0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10', 'a=ptime:20'));
    const answer = buildSdpAnswer({ host: '10.0.0.5', port: 40002, rtcpPort: 40003, sessionId: 'rtp_x', offer: o });
    const lines = answer.split('\r\n');
    expect(lines[0]).toBe('v=0');
    expect(lines).toEqual(expect.arrayContaining(['c=IN IP4 10.0.0.5', 'm=audio 40002 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10', 'a=ptime:20', 'a=rtcp:40003', 'a=recvonly']));
    expect(lines.filter((l) => l.startsWith('m='))).toHaveLength(1);
    expect(answer.endsWith('\r\n')).toBe(true);
    expect(buildSdpAnswer({ host: '::1', port: 40002, rtcpPort: 40003, sessionId: 'rtp_x', offer: o })).toContain('c=IN IP6 ::1');
  });
});
