import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { candidateAddresses, isMdnsCandidate, OPUS_FMTP, opusFmtp, opusPayloadTypes, parseFmtp, setOpusFmtp, stripMdnsCandidates } from './sdp-munge.ts';

/** A sendonly audio offer as headless Chromium 156 wrote it (no microphone permission: mDNS candidates only). */
const chromiumOffer = readFileSync(new URL('./testdata/chromium-sendonly-offer.sdp', import.meta.url), 'utf8');

/** An answer without any Opus fmtp line, as a minimal peer might send. */
const bareAnswer = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 96 0', 'c=IN IP4 0.0.0.0', 'a=rtpmap:96 OPUS/48000/2', 'a=rtpmap:0 PCMU/8000', 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host', ''].join('\n');

describe('SDP munging', () => {
  it('finds Opus in a real Chromium offer, and only Opus (not RED wrapping it)', () => {
    expect(opusPayloadTypes(chromiumOffer)).toEqual([111]);
    expect(Object.fromEntries(opusFmtp(chromiumOffer)!)).toEqual({ minptime: '10', useinbandfec: '1' });
  });

  it('sets useinbandfec=1 and stereo=0 on the Opus fmtp line, keeping its other parameters and every other line', () => {
    const munged = setOpusFmtp(chromiumOffer, OPUS_FMTP);
    expect(munged).toContain('a=fmtp:111 minptime=10;useinbandfec=1;stereo=0\r\n');
    // RED's fmtp (63 111/111) is not Opus's.
    expect(munged).toContain('a=fmtp:63 111/111\r\n');
    const before = chromiumOffer.split('\r\n');
    const after = munged.split('\r\n');
    expect(after).toHaveLength(before.length);
    expect(after.filter((l, i) => l !== before[i])).toEqual(['a=fmtp:111 minptime=10;useinbandfec=1;stereo=0']);
    // Idempotent.
    expect(setOpusFmtp(munged, OPUS_FMTP)).toBe(munged);
  });

  it('overrides a value the browser set (useinbandfec=0 becomes 1)', () => {
    const off = chromiumOffer.replace('a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 minptime=10;useinbandfec=0;stereo=1');
    expect(Object.fromEntries(opusFmtp(setOpusFmtp(off, OPUS_FMTP))!)).toEqual({ minptime: '10', useinbandfec: '1', stereo: '0' });
  });

  it('adds an fmtp line right after the Opus rtpmap when there is none, and writes CRLF', () => {
    const munged = setOpusFmtp(bareAnswer, OPUS_FMTP);
    const lines = munged.split('\r\n');
    expect(lines[lines.indexOf('a=rtpmap:96 OPUS/48000/2') + 1]).toBe('a=fmtp:96 useinbandfec=1;stereo=0');
    expect(munged.endsWith('\r\n')).toBe(true);
    expect(munged).not.toMatch(/[^\r]\n/);
  });

  it('leaves SDP without Opus as it was', () => {
    const pcmu = bareAnswer.replace('a=rtpmap:96 OPUS/48000/2\n', '');
    expect(setOpusFmtp(pcmu, OPUS_FMTP)).toBe(pcmu);
    expect(opusFmtp(pcmu)).toBeNull();
  });

  it('drops mDNS host candidates and keeps IP ones', () => {
    expect(candidateAddresses(chromiumOffer)).toHaveLength(2);
    const { sdp, dropped } = stripMdnsCandidates(chromiumOffer);
    expect(dropped).toBe(2);
    expect(candidateAddresses(sdp)).toEqual([]);
    expect(sdp).toContain('a=ice-ufrag:');
    const mixed = `${chromiumOffer}a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\n`;
    expect(candidateAddresses(stripMdnsCandidates(mixed).sdp)).toEqual(['127.0.0.1']);
    expect(isMdnsCandidate('a=candidate:1 1 udp 1 ABCD.LOCAL 9 typ host')).toBe(true);
    expect(isMdnsCandidate('a=candidate:1 1 udp 1 192.168.1.4 9 typ host')).toBe(false);
    expect(isMdnsCandidate('a=ice-ufrag:local')).toBe(false);
  });

  it('parses fmtp parameters with spaces and flags', () => {
    expect([...parseFmtp(' minptime=10; useinbandfec=1;;cbr ')]).toEqual([
      ['minptime', '10'],
      ['useinbandfec', '1'],
      ['cbr', ''],
    ]);
  });
});
