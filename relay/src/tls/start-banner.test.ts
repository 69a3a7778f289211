/**
 * What the relay prints about HTTPS at start: the links other devices open, a QR code of the
 * first, the trust steps of each platform, and the warning for a relay exposed over plain
 * HTTP.
 */
import { describe, expect, it } from 'vitest';
import { httpsBanner, isLoopbackHost, lanLinks, plainHttpWarning } from './start-banner.ts';

const ADDRESSES = ['192.168.1.20', '10.0.0.5', 'fd00::2', 'fe80::1'];

describe('HTTPS start banner', () => {
  it('links every LAN address on a wildcard bind (IPv6 in brackets, link-local left out), the bound one otherwise, none on loopback', () => {
    expect(lanLinks('0.0.0.0', 8443, ADDRESSES)).toEqual(['https://192.168.1.20:8443/', 'https://10.0.0.5:8443/', 'https://[fd00::2]:8443/']);
    expect(lanLinks('::', 8443, ADDRESSES)).toHaveLength(3);
    expect(lanLinks('10.213.0.1', 8080, ADDRESSES)).toEqual(['https://10.213.0.1:8080/']);
    for (const lo of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) {
      expect(isLoopbackHost(lo)).toBe(true);
      expect(lanLinks(lo, 8080, ADDRESSES)).toEqual([]);
    }
  });

  it('prints the links, a QR code, the CA fingerprint and every platform, with the CA links on the first address', async () => {
    const text = await httpsBanner({ host: '0.0.0.0', port: 8443, caFile: '/srv/data/tls/ca.pem', caFingerprint: 'AB:CD', addresses: ADDRESSES });
    expect(text).toContain('https://192.168.1.20:8443/');
    expect(text).toContain('https://[fd00::2]:8443/');
    expect(text).not.toContain('fe80');
    // The terminal QR code: rows of half blocks.
    expect(text.split('\n').filter((l) => /[▀▄█]{5}/.test(l)).length).toBeGreaterThan(10);
    expect(text).toContain('npm run token -- create --scopes ingest, then open https://192.168.1.20:8443/?token=');
    expect(text).toContain('SHA-256 AB:CD');
    expect(text).toContain('https://192.168.1.20:8443/tls/ca.crt');
    expect(text).toContain('https://192.168.1.20:8443/tls/ca.pem');
    for (const platform of ['Android', 'iOS', 'Certificate Trust Settings', 'macOS', 'Always Trust', 'Windows', 'certutil -addstore Root', 'Trusted Root Certification Authorities', 'update-ca-certificates', '/usr/local/share/ca-certificates', 'certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n tapwire -i /srv/data/tls/ca.pem']) {
      expect(text, platform).toContain(platform);
    }
  });

  it('on loopback: says HTTPS is for this machine, no QR code; with a user certificate: no CA steps', async () => {
    const lo = await httpsBanner({ host: '127.0.0.1', port: 8443, caFile: '/d/tls/ca.pem', caFingerprint: 'AB', addresses: ADDRESSES });
    expect(lo).toMatch(/this machine only/);
    expect(lo).not.toMatch(/[▀▄█]{5}/);
    expect(lo).toContain('copy /d/tls/ca.pem');
    const own = await httpsBanner({ host: '0.0.0.0', port: 443, caFile: null, caFingerprint: null, addresses: ADDRESSES });
    expect(own).toContain('https://192.168.1.20:443/');
    expect(own).not.toMatch(/Trust the local CA|ca\.crt/);
  });

  it('warns in one line that phones will not capture over plain http, and how to fix it', () => {
    const w = plainHttpWarning('0.0.0.0');
    expect(w.split('\n')).toHaveLength(1);
    expect(w).toMatch(/0\.0\.0\.0 over plain http:\/\/, so phones and other machines will not be able to capture/);
    expect(w).toMatch(/npm start -- --tls/);
    expect(w).toMatch(/TAPWIRE_TLS_CERT and TAPWIRE_TLS_KEY/);
    expect(w).toMatch(/reverse proxy .*docs\/DEPLOY\.md/);
  });
});
