/**
 * A local certificate authority for HTTPS on a LAN: browsers give microphones, AudioWorklets
 * and service workers only to secure contexts (https://, or localhost), so a phone that
 * opens the relay by its LAN address needs a certificate it trusts. The CA is made once and
 * installed on each device; the server certificate it signs can be re-issued (a new address,
 * a new name) without touching the devices.
 *
 * Every key and certificate is made by Debian's openssl (/usr/bin/openssl, run with
 * execFile): nothing here does cryptography itself. Files, under `<data dir>/tls/`:
 *
 *   ca.pem          the CA certificate (public: served at /tls/ca.pem, installed on devices)
 *   ca-key.pem      its key, mode 0600, never leaves this directory
 *   server.pem      the relay's certificate (ECDSA P-256, serverAuth, 825 days)
 *   server-key.pem  its key, mode 0600
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificateInfo } from './certificate-info.ts';

const run = promisify(execFile);

export const OPENSSL = '/usr/bin/openssl';
/** One openssl call may take this long (EC keys take milliseconds). */
const OPENSSL_TIMEOUT_MS = 30_000;
/** CA validity: 10 years. */
export const CA_DAYS = 3650;
/** The longest validity Apple platforms accept for a TLS server certificate (iOS 13, macOS 10.15). */
export const SERVER_DAYS = 825;
/** `ensureLocalCertificate` re-issues a server certificate that expires within this. */
const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export interface LocalCaFiles {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function localCaFiles(dir: string): LocalCaFiles {
  return { dir, caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem'), serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem') };
}

/** What the server certificate names: DNS names and IP addresses (subjectAltName). */
export interface ServerNames {
  dns: string[];
  ips: string[];
}

export interface InitResult {
  files: LocalCaFiles;
  /** True when a new CA was made (devices that trusted the old one must install this one). */
  caCreated: boolean;
  names: ServerNames;
}

export class LocalCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalCaError';
  }
}

/** The address as openssl and X509Certificate print it back: IPv6 compressed, lowercase. */
export function normalizeIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** A DNS name a certificate can carry: letters, digits, hyphens, dots, an optional leading wildcard. */
export function isDnsName(name: string): boolean {
  return name.length <= 253 && /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name);
}

/** This machine's addresses other than loopback, IPv4 first (os.networkInterfaces()). */
export function lanAddresses(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = all.filter((a) => !a.internal);
  return [...external.filter((a) => a.family === 'IPv4'), ...external.filter((a) => a.family === 'IPv6')].map((a) => normalizeIp(a.address));
}

/**
 * The names a server certificate for this machine carries: localhost, the host name and
 * `<host>.local` (mDNS), loopback, every LAN address, and the extras asked for.
 */
export function defaultServerNames(extra: Partial<ServerNames> = {}): ServerNames {
  const host = hostname();
  const dns = ['localhost'];
  if (isDnsName(host) && host !== 'localhost') dns.push(host);
  if (isDnsName(host) && !host.includes('.') && host !== 'localhost') dns.push(`${host}.local`);
  const ips = ['127.0.0.1', '::1', ...lanAddresses()];
  for (const name of extra.dns ?? []) {
    if (!isDnsName(name)) throw new LocalCaError(`"${name}" is not a DNS name a certificate can carry (letters, digits, hyphens and dots)`);
    dns.push(name.toLowerCase());
  }
  for (const ip of extra.ips ?? []) {
    if (isIP(ip) === 0) throw new LocalCaError(`"${ip}" is not an IPv4 or IPv6 address`);
    ips.push(normalizeIp(ip));
  }
  return { dns: [...new Set(dns)], ips: [...new Set(ips)] };
}

async function openssl(args: string[]): Promise<string> {
  if (!existsSync(OPENSSL)) throw new LocalCaError(`${OPENSSL} is missing: install it (Debian: apt-get install openssl) to make a local CA`);
  try {
    const { stdout } = await run(OPENSSL, args, { timeout: OPENSSL_TIMEOUT_MS, maxBuffer: 1024 * 1024 });
    return stdout;
  } catch (err) {
    // openssl's own words on stderr; its arguments name files, never key material.
    const e = err as { stderr?: string; message: string };
    throw new LocalCaError(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split('\n')[0]}`);
  }
}

/** An empty file readable by its owner alone, for openssl to write a key into (it keeps the mode). */
function privateFile(path: string): void {
  rmSync(path, { force: true });
  closeSync(openSync(path, 'wx', 0o600));
}

/** A new ECDSA P-256 key at `path`, mode 0600 (written to a temporary name first). */
async function newKey(path: string): Promise<void> {
  privateFile(path);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

function serial(): string {
  // 159 bits, positive (RFC 5280 §4.1.2.2: at most 20 octets, unique per CA).
  const b = randomBytes(20);
  b[0] &= 0x7f;
  return `0x${b.toString('hex')}`;
}

/** A new CA: key and self-signed certificate, CA:TRUE, 10 years. */
async function createCa(files: LocalCaFiles, commonName: string): Promise<void> {
  const key = `${files.caKey}.new`;
  const cert = `${files.caCert}.new`;
  await newKey(key);
  await openssl([
    'req', '-x509', '-new', '-key', key, '-out', cert, '-days', String(CA_DAYS), '-sha256', '-set_serial', serial(),
    '-subj', `/O=Tapwire/CN=${commonName.replace(/[/\\]/g, '-')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
  ]);
  renameSync(key, files.caKey);
  renameSync(cert, files.caCert);
}

/** A server key and certificate signed by the CA, naming `names`. */
async function issueServer(files: LocalCaFiles, names: ServerNames): Promise<void> {
  const key = `${files.serverKey}.new`;
  const csr = join(files.dir, 'server.csr.new');
  const ext = join(files.dir, 'server.ext.new');
  const cert = `${files.serverCert}.new`;
  const san = [...names.dns.map((d) => `DNS:${d}`), ...names.ips.map((ip) => `IP:${ip}`)].join(',');
  try {
    await newKey(key);
    await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/O=Tapwire/CN=${names.dns[1] ?? names.dns[0]}`]);
    writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid,issuer',
        '',
      ].join('\n'),
    );
    await openssl(['x509', '-req', '-in', csr, '-CA', files.caCert, '-CAkey', files.caKey, '-set_serial', serial(), '-days', String(SERVER_DAYS), '-sha256', '-extfile', ext, '-out', cert]);
    renameSync(key, files.serverKey);
    renameSync(cert, files.serverCert);
  } finally {
    for (const f of [key, csr, ext, cert]) rmSync(f, { force: true });
  }
}

/**
 * `npm run tls -- init`: makes the CA if there is none (or `forceCa`), and issues a new
 * server certificate in any case. An existing CA is kept, so devices that trust it keep
 * working after the server certificate changes.
 */
export async function initLocalCa(dir: string, opts: { extra?: Partial<ServerNames>; forceCa?: boolean } = {}): Promise<InitResult> {
  const files = localCaFiles(dir);
  const names = defaultServerNames(opts.extra);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hasCa = existsSync(files.caCert) && existsSync(files.caKey);
  if (!hasCa && !opts.forceCa && (existsSync(files.caCert) || existsSync(files.caKey))) {
    throw new LocalCaError(`${dir} holds half a CA (${existsSync(files.caCert) ? 'ca.pem without ca-key.pem' : 'ca-key.pem without ca.pem'}): make a new one with --force-ca (devices must then trust the new ca.pem)`);
  }
  const caCreated = !hasCa || opts.forceCa === true;
  if (caCreated) await createCa(files, `Tapwire local CA (${hostname()})`);
  await issueServer(files, names);
  return { files, caCreated, names };
}

/**
 * At start with `--tls` / TAPWIRE_TLS=local: makes the CA and the server certificate if
 * missing, and re-issues the server certificate when it expires within 30 days or lacks one
 * of this machine's current addresses (a laptop on another network). Returns whether it
 * wrote anything.
 */
export async function ensureLocalCertificate(dir: string): Promise<{ files: LocalCaFiles; issued: boolean; caCreated: boolean }> {
  const files = localCaFiles(dir);
  if (!existsSync(files.caCert) || !existsSync(files.caKey) || !existsSync(files.serverCert) || !existsSync(files.serverKey)) {
    const r = await initLocalCa(dir, { extra: existsSync(files.serverCert) ? namesToKeep(files) : {} });
    return { files, issued: true, caCreated: r.caCreated };
  }
  const info = certificateInfo(readFileSync(files.serverCert, 'utf8'));
  const wanted = defaultServerNames();
  const missing = wanted.ips.some((ip) => !info.ips.includes(ip)) || wanted.dns.some((d) => !info.dns.includes(d));
  if (!missing && info.validTo.getTime() - Date.now() > RENEW_BEFORE_MS) return { files, issued: false, caCreated: false };
  await initLocalCa(dir, { extra: namesToKeep(files) });
  return { files, issued: true, caCreated: false };
}

/** The names of the current server certificate (the `--name`/`--ip` extras a user added survive a re-issue). */
function namesToKeep(files: LocalCaFiles): ServerNames {
  try {
    const { dns, ips } = certificateInfo(readFileSync(files.serverCert, 'utf8'));
    return { dns: dns.filter(isDnsName), ips };
  } catch {
    return { dns: [], ips: [] };
  }
}
