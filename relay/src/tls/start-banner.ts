/**
 * What the relay prints at start about HTTPS (to stdout, for the person at the terminal, not
 * through the JSON log): the https:// link of each LAN address with a QR code of the first,
 * how to trust the local CA on each platform, and, for a relay reachable beyond loopback
 * without TLS, the warning that phones will not be able to capture.
 */
import QRCode from 'qrcode';
import { CA_CRT_PATH, CA_PEM_PATH } from './ca-route.ts';
import { lanAddresses } from './local-ca.ts';

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** True when the relay is meant for this machine only (TAPWIRE_HOST a loopback address). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/**
 * The https:// links other devices open: every LAN address for a relay bound to all of them
 * (link-local IPv6 left out: its URL needs a zone a browser will not take), the bound
 * address otherwise; none on loopback.
 */
export function lanLinks(host: string, port: number, addresses: readonly string[] = lanAddresses()): string[] {
  if (isLoopbackHost(host)) return [];
  const hosts = WILDCARD.has(host) ? addresses.filter((a) => !/^fe80:/i.test(a)) : [host];
  return hosts.map((h) => `https://${h.includes(':') ? `[${h}]` : h}:${port}/`);
}

/** How to trust the CA, per platform (docs/HTTPS.md says the same at more length). */
export function trustInstructions(caFile: string, caLinks: { crt: string; pem: string } | null): string[] {
  return [
    'Trust the local CA once on each device (check that its SHA-256 fingerprint is the one above):',
    caLinks === null
      ? `  get it: copy ${caFile} to the device`
      : `  get it: open ${caLinks.crt} on the device (accept the certificate warning this once), or copy ${caFile}`,
    '  Android: Settings > Security > Encryption & credentials > Install a certificate > CA certificate > the downloaded file.',
    '  iOS/iPadOS: download it in Safari, allow the profile; Settings > General > VPN & Device Management > install it;',
    '    then Settings > General > About > Certificate Trust Settings > turn on "Tapwire local CA".',
    '  macOS: open ca.pem in Keychain Access (System keychain), double-click "Tapwire local CA" > Trust > Always Trust.',
    '  Windows: certutil -addstore Root ca.crt (as administrator), or certmgr.msc > Trusted Root Certification Authorities > Import.',
    `  Linux (Debian): sudo cp ${caFile} /usr/local/share/ca-certificates/tapwire-ca.crt && sudo update-ca-certificates`,
    `  Chromium/Firefox on Linux (NSS): certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n tapwire -i ${caFile}`,
    ...(caLinks === null ? [] : [`  (the PEM for desktops: ${caLinks.pem})`]),
    'More: docs/HTTPS.md',
  ];
}

/** The lines printed after "Tapwire is running" when the relay serves HTTPS. */
export async function httpsBanner(o: { host: string; port: number; caFile: string | null; caFingerprint: string | null; addresses?: readonly string[] }): Promise<string> {
  const links = lanLinks(o.host, o.port, o.addresses);
  const lines: string[] = [];
  if (links.length === 0) {
    lines.push('  HTTPS on this machine only (TAPWIRE_HOST is loopback); TAPWIRE_HOST=0.0.0.0 opens it to phones on the network.');
  } else {
    lines.push('  Open on a phone or another machine:');
    for (const l of links) lines.push(`    ${l}`);
  }
  if (links.length > 0) {
    const qr = await QRCode.toString(links[0], { type: 'terminal', small: true });
    lines.push('', ...qr.trimEnd().split('\n').map((l) => `  ${l}`), `  (${links[0]})`);
    // Beyond loopback, capturing needs a token (docs/SECURITY.md): the link above carries none.
    lines.push(`  To capture, a device signs in once with a token: npm run token -- create --scopes ingest, then open ${links[0]}?token=<the token>`);
  }
  if (o.caFile !== null) {
    lines.push('', `  Local CA: ${o.caFile}`, `  SHA-256 ${o.caFingerprint ?? '?'}`);
    const base = links[0]?.slice(0, -1);
    const caLinks = base === undefined ? null : { crt: `${base}${CA_CRT_PATH}`, pem: `${base}${CA_PEM_PATH}` };
    lines.push(...trustInstructions(o.caFile, caLinks).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

/** The warning for a relay reachable beyond loopback over plain HTTP, one line. */
export function plainHttpWarning(host: string): string {
  return (
    `warning: Tapwire listens on ${host} over plain http://, so phones and other machines will not be able to capture ` +
    '(browsers allow microphones only on https:// or localhost): start it with `npm start -- --tls` (a local CA, docs/HTTPS.md), ' +
    'set TAPWIRE_TLS_CERT and TAPWIRE_TLS_KEY to a certificate, or put an HTTPS reverse proxy in front (docs/DEPLOY.md).'
  );
}
