/**
 * What a PEM certificate says, read with Node's X509Certificate: the names it covers
 * (subjectAltName), its validity and its SHA-256 fingerprint (what a user compares on a
 * device before trusting a CA).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  dns: string[];
  /** IP addresses, IPv6 compressed and lowercase. */
  ips: string[];
  validFrom: Date;
  validTo: Date;
  /** SHA-256 of the DER, as colon-separated hex. */
  fingerprint256: string;
  isCa: boolean;
}

export function certificateInfo(pem: string | Buffer): CertificateInfo {
  const x = new X509Certificate(pem);
  const dns: string[] = [];
  const ips: string[] = [];
  for (const entry of (x.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(entry.trim());
    if (m === null) continue;
    if (m[1] === 'DNS') dns.push(m[2].toLowerCase());
    else if (isIP(m[2]) !== 0) ips.push(isIP(m[2]) === 6 ? new URL(`http://[${m[2]}]/`).hostname.slice(1, -1) : m[2]);
  }
  return { subject: x.subject, issuer: x.issuer, dns, ips, validFrom: new Date(x.validFrom), validTo: new Date(x.validTo), fingerprint256: x.fingerprint256, isCa: x.ca };
}
