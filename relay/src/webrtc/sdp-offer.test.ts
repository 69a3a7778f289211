import { describe, expect, it } from 'vitest';
import { checkOffer, opusPayloadTypeOf, withInbandFec } from './sdp-offer.ts';

/** An audio-only offer as Chromium writes it (trimmed of header extensions), with an mDNS host candidate. */
const CHROMIUM_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1467250027 1 udp 2122260223 127.0.0.1 46243 typ host generation 0',
  'a=candidate:2999745851 1 udp 2122194687 0b8e4c8e-3b7a-4d0b-9d1c-7a6f1b2c3d4e.local 53812 typ host generation 0',
  'a=ice-ufrag:khLS',
  'a=ice-pwd:cxLzteJaJBou3DspNaPsJhlQ',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 FA:14:42:3B:C7:97:1B:E8:AE:0C:2E:A9:A3:1D:7C:3F:4B:2A:9E:6D:0C:8B:71:5F:3E:2D:1C:0B:9A:8F:7E:6D',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  '',
].join('\r\n');

describe('checkOffer', () => {
  it('takes a Chromium audio offer, finds Opus, and drops its mDNS candidate only', () => {
    const r = checkOffer(CHROMIUM_OFFER, 'send');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.opusPayloadType).toBe(111);
    expect(r.droppedCandidates).toBe(1);
    expect(r.sdp).not.toContain('.local');
    expect(r.sdp).toContain('127.0.0.1 46243 typ host');
    expect(r.sdp.endsWith('\r\n')).toBe(true);
    // Nothing else changed.
    expect(r.sdp.split('\r\n').length).toBe(CHROMIUM_OFFER.split('\r\n').length - 1);
  });

  it('accepts bare LF line ends', () => {
    expect(checkOffer(CHROMIUM_OFFER.replace(/\r\n/g, '\n'), 'send').ok).toBe(true);
  });

  it.each([
    ['', 'send', /empty/],
    ['x'.repeat(70_000), 'send', /over 65536 bytes/],
    ['o=- 1 2 IN IP4 127.0.0.1\r\n', 'send', /must start with "v=0"/],
    [CHROMIUM_OFFER.replace('m=audio', 'm=video'), 'send', /no audio m-section/],
    [CHROMIUM_OFFER.replace('opus/48000/2', 'opus/16000/1'), 'send', /offers no Opus at 48000 Hz/],
    [CHROMIUM_OFFER, 'receive', /the audio m-section is sendonly; it must be recvonly or sendrecv/],
    [CHROMIUM_OFFER.replace('a=sendonly', 'a=inactive'), 'send', /inactive; it must be sendonly or sendrecv/],
    [CHROMIUM_OFFER.replace(/a=ice-ufrag:[^\r]*\r\n/, ''), 'send', /no ICE credentials/],
    [CHROMIUM_OFFER.replace(/a=fingerprint:[^\r]*\r\n/, ''), 'send', /no DTLS fingerprint/],
  ] as const)('refuses a bad offer (%#) and says why', (body, direction, message) => {
    const r = checkOffer(body, direction);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('reads sendrecv as fine both ways', () => {
    const both = CHROMIUM_OFFER.replace('a=sendonly', 'a=sendrecv');
    expect(checkOffer(both, 'send').ok).toBe(true);
    expect(checkOffer(both, 'receive').ok).toBe(true);
  });
});

describe('withInbandFec', () => {
  it('adds useinbandfec=1 to the Opus fmtp line, once, and leaves other payload types alone', () => {
    const answer = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=0\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n';
    const out = withInbandFec(answer);
    expect(out).toContain('a=fmtp:111 minptime=10;useinbandfec=1\r\n');
    expect(out).not.toContain('useinbandfec=0');
    expect(out).toContain('a=fmtp:63 111/111\r\n');
    expect(withInbandFec(out)).toBe(out);
  });

  it('writes an fmtp line where the answer has none', () => {
    const out = withInbandFec('v=0\r\na=rtpmap:96 opus/48000/2\r\na=rtcp-mux\r\n');
    expect(out).toBe('v=0\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=rtcp-mux\r\n');
    expect(opusPayloadTypeOf(out)).toBe(96);
  });
});
