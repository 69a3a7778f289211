/**
 * The local CA, judged by openssl itself: the server certificate verifies against the CA
 * (`openssl verify`), names every address of this machine and the extras, keys are mode
 * 0600 and never printed, and a second `init` keeps the CA. The CLI runs as a user runs it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';
import { certificateInfo } from './certificate-info.ts';
import { ensureLocalCertificate, initLocalCa, isDnsName, lanAddresses, LocalCaError, localCaFiles, normalizeIp, OPENSSL, SERVER_DAYS } from './local-ca.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tapwire-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openssl = async (...args: string[]): Promise<string> => (await exec(OPENSSL, args)).stdout;
const mode = (path: string): number => statSync(path).mode & 0o777;

/** The subjectAltName as openssl prints it, IPs normalized as Node writes them. */
async function opensslSans(cert: string): Promise<{ dns: string[]; ips: string[] }> {
  const text = await openssl('x509', '-in', cert, '-noout', '-ext', 'subjectAltName');
  const entries = text.split('\n')[1].trim().split(/,\s*/);
  return {
    dns: entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4)),
    ips: entries.filter((e) => e.startsWith('IP Address:')).map((e) => normalizeIp(e.slice(11))),
  };
}

function runCli(args: string[], dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'relay/bin/tls.ts', ...args], { cwd: ROOT, env: { ...process.env, TAPWIRE_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('names a certificate may carry', () => {
  it('takes host names and refuses what is not one', () => {
    for (const ok of ['localhost', 'relay.example', 'my-laptop.local', '*.lan.example', 'a1']) expect(isDnsName(ok), ok).toBe(true);
    for (const bad of ['', 'has space', '-lead.example', 'a..b', 'under_score', 'x'.repeat(64), 'é.example', 'a/b']) expect(isDnsName(bad), bad).toBe(false);
  });

  it('writes IPv6 compressed and lowercase, as X509Certificate reads it', () => {
    expect(normalizeIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeIp('FD00:0:0:0:0:0:0:2')).toBe('fd00::2');
    expect(normalizeIp('10.213.0.1')).toBe('10.213.0.1');
  });
});

describe.skipIf(skipWithout(OPENSSL, existsSync(OPENSSL)))('local CA with openssl', () => {
  const caDir = join(dir, 'data', 'tls');
  const files = localCaFiles(caDir);

  it('init makes a CA and a server certificate that verifies against it, names every address, keys 0600', async () => {
    const r = await initLocalCa(caDir, { extra: { ips: ['10.213.0.1', 'FD00::99'], dns: ['relay.example'] } });
    expect(r.caCreated).toBe(true);
    for (const f of [files.caCert, files.caKey, files.serverCert, files.serverKey]) expect(existsSync(f), f).toBe(true);
    expect(mode(files.caKey).toString(8)).toBe('600');
    expect(mode(files.serverKey).toString(8)).toBe('600');
    expect(mode(caDir).toString(8)).toBe('700');
    // No temporary file (a key under another name) is left behind.
    expect(readdirSync(caDir).sort()).toEqual(['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);

    expect((await openssl('verify', '-CAfile', files.caCert, files.serverCert)).trim()).toBe(`${files.serverCert}: OK`);
    // The CA: CA:TRUE, ECDSA P-256, its name, 10 years.
    const caText = await openssl('x509', '-in', files.caCert, '-noout', '-text');
    expect(caText).toMatch(/CA:TRUE/);
    expect(caText).toMatch(/ASN1 OID: prime256v1/);
    expect(caText).toContain(`CN = Tapwire local CA (${hostname()})`);
    const ca = certificateInfo(readFileSync(files.caCert));
    expect(ca.isCa).toBe(true);
    expect(Math.round((ca.validTo.getTime() - ca.validFrom.getTime()) / 86_400_000)).toBe(3650);
    // The server certificate: serverAuth, not a CA, 825 days, P-256.
    const serverText = await openssl('x509', '-in', files.serverCert, '-noout', '-text');
    expect(serverText).toMatch(/TLS Web Server Authentication/);
    expect(serverText).toMatch(/CA:FALSE/);
    expect(serverText).toMatch(/ASN1 OID: prime256v1/);
    const server = certificateInfo(readFileSync(files.serverCert));
    expect(Math.round((server.validTo.getTime() - server.validFrom.getTime()) / 86_400_000)).toBe(SERVER_DAYS);

    const sans = await opensslSans(files.serverCert);
    expect(sans.dns).toEqual(expect.arrayContaining(['localhost', 'relay.example']));
    if (isDnsName(hostname())) expect(sans.dns).toEqual(expect.arrayContaining([hostname().toLowerCase()]));
    if (isDnsName(hostname()) && !hostname().includes('.')) expect(sans.dns).toContain(`${hostname().toLowerCase()}.local`);
    expect(sans.ips).toEqual(expect.arrayContaining(['127.0.0.1', '::1', '10.213.0.1', 'fd00::99', ...lanAddresses()]));
    expect(r.names.ips.sort()).toEqual([...sans.ips].sort());
  });

  it('init again keeps the CA and issues a new server certificate; --force-ca makes a new CA', async () => {
    const caBefore = readFileSync(files.caCert, 'utf8');
    const caKeyBefore = readFileSync(files.caKey, 'utf8');
    const serverBefore = certificateInfo(readFileSync(files.serverCert));
    const again = await initLocalCa(caDir, { extra: { ips: ['10.213.0.7'] } });
    expect(again.caCreated).toBe(false);
    expect(readFileSync(files.caCert, 'utf8')).toBe(caBefore);
    expect(readFileSync(files.caKey, 'utf8')).toBe(caKeyBefore);
    const serverAfter = certificateInfo(readFileSync(files.serverCert));
    expect(serverAfter.fingerprint256).not.toBe(serverBefore.fingerprint256);
    expect(serverAfter.ips).toContain('10.213.0.7');
    expect(serverAfter.ips).not.toContain('10.213.0.1');
    expect((await openssl('verify', '-CAfile', files.caCert, files.serverCert)).trim()).toMatch(/: OK$/);
    expect(mode(files.serverKey).toString(8)).toBe('600');

    const other = join(dir, 'other-ca');
    await initLocalCa(other);
    const forced = await initLocalCa(other, { forceCa: true });
    expect(forced.caCreated).toBe(true);
    // The new server certificate verifies against the new CA, and not against the first directory's.
    expect((await openssl('verify', '-CAfile', join(other, 'ca.pem'), join(other, 'server.pem'))).trim()).toMatch(/: OK$/);
    await expect(openssl('verify', '-CAfile', files.caCert, join(other, 'server.pem'))).rejects.toThrow(/unable to get local issuer certificate/);
  });

  it('at start: makes what is missing, keeps what is current, re-issues a deleted server certificate under the same CA', async () => {
    const d = join(dir, 'ensure');
    const first = await ensureLocalCertificate(d);
    expect(first).toMatchObject({ issued: true, caCreated: true });
    const ca = readFileSync(join(d, 'ca.pem'), 'utf8');
    const server = readFileSync(join(d, 'server.pem'), 'utf8');
    expect(await ensureLocalCertificate(d)).toMatchObject({ issued: false, caCreated: false });
    expect(readFileSync(join(d, 'server.pem'), 'utf8')).toBe(server);
    rmSync(join(d, 'server-key.pem'));
    expect(await ensureLocalCertificate(d)).toMatchObject({ issued: true, caCreated: false });
    expect(readFileSync(join(d, 'ca.pem'), 'utf8')).toBe(ca);
    expect(readFileSync(join(d, 'server.pem'), 'utf8')).not.toBe(server);
  });

  it('refuses half a CA, and names that are not names', async () => {
    const half = join(dir, 'half');
    mkdirSync(half, { recursive: true });
    writeFileSync(join(half, 'ca.pem'), readFileSync(files.caCert));
    await expect(initLocalCa(half)).rejects.toThrow(/half a CA \(ca\.pem without ca-key\.pem\).*--force-ca/);
    await expect(initLocalCa(join(dir, 'bad-ip'), { extra: { ips: ['10.0.0.300'] } })).rejects.toThrow(LocalCaError);
    await expect(initLocalCa(join(dir, 'bad-name'), { extra: { dns: ['not a name'] } })).rejects.toThrow(/not a DNS name/);
  });

  it('npm run tls: init prints what it made and never a key; bad arguments exit 64; show reads the files', async () => {
    const dataDir = join(dir, 'cli');
    const init = await runCli(['init', '--ip', '10.213.0.1', '--name', 'relay.example'], dataDir);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/made a new local CA/);
    expect(init.stdout).toMatch(/names: .*relay\.example.*10\.213\.0\.1/);
    const keys = ['ca-key.pem', 'server-key.pem'].map((k) => readFileSync(join(dataDir, 'tls', k), 'utf8'));
    for (const out of [init.stdout, init.stderr]) {
      expect(out).not.toMatch(/PRIVATE KEY/);
      for (const k of keys) expect(out).not.toContain(k.split('\n')[1]);
    }
    const again = await runCli(['init'], dataDir);
    expect(again.stdout).toMatch(/kept the local CA/);
    const show = await runCli(['show'], dataDir);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/CA: .*ca\.pem/);
    expect(show.stdout).not.toMatch(/PRIVATE KEY/);

    const [badIp, badName, badCommand, unknownFlag, help] = await Promise.all([
      runCli(['init', '--ip', 'nope'], dataDir),
      runCli(['init', '--name', 'has space'], dataDir),
      runCli(['renew'], dataDir),
      runCli(['init', '--verbose'], dataDir),
      runCli(['--help'], dataDir),
    ]);
    for (const [r, pattern] of [
      [badIp, /--ip "nope" is not an IPv4 or IPv6 address/],
      [badName, /--name "has space" is not a DNS name/],
      [badCommand, /unknown command "renew"/],
      [unknownFlag, /--verbose/],
    ] as const) {
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run tls -- init/);
    const noCa = await runCli(['show'], join(dir, 'empty'));
    expect(noCa.code).toBe(78);
    expect(noCa.stderr).toMatch(/no local CA in .*npm run tls -- init/);
  }, 60_000);
});
