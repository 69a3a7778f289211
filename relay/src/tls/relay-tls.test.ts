/**
 * The relay over HTTPS: clients that trust only our CA reach /healthz and stream over
 * wss://, the CA certificate (and nothing else) is served to anyone when TLS is local, and a
 * certificate the relay cannot use stops the start with one line and exit code 78. Real
 * relays, real TLS sockets; the bad starts run as their own processes, as a user meets them.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import { EXIT } from '../startup-checks.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { connectIngest, PCM16_START } from '../testing/ingest-client.ts';
import { startRelayProcess } from '../testing/relay-process.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { initLocalCa, localCaFiles, OPENSSL } from './local-ca.ts';
import { expectOneLine, runCommand, type CommandResult } from '../testing/relay-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-relay-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GET over https trusting `ca` alone (Node's own CA list is replaced, not extended). */
function httpsGet(url: string, ca: string | null): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get(url, ca === null ? {} : { ca }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

/** relay/bin/relay.ts on a free port, one media worker, a data dir of its own. */
function run(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runCommand('relay/bin/relay.ts', args, { TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_PORT: '0', TAPWIRE_MEDIA_WORKERS: '1', TAPWIRE_DATA_DIR: join(dir, 'bad-start'), ...env });
}

describe.skipIf(skipWithout(OPENSSL, existsSync(OPENSSL)))('relay over HTTPS', () => {
  let local: TestRelay;
  let ca: string;

  beforeAll(async () => {
    local = await startTestRelay({ tls: 'local' });
    ca = readFileSync(localCaFiles(join(local.dataDir, 'tls')).caCert, 'utf8');
  });
  afterAll(async () => {
    await local?.close();
  });

  it('TAPWIRE_TLS=local: https:// URL, /healthz to a client that trusts only our CA, refused by one that does not', async () => {
    expect(local.relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(local.wsUrl).toMatch(/^wss:\/\//);
    const health = await httpsGet(`${local.httpUrl}/healthz`, ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'ok' });
    // Node's usual CA list does not know our CA: the same request fails the handshake.
    await expect(httpsGet(`${local.httpUrl}/healthz`, null)).rejects.toThrow(/unable to verify the first certificate/);
  });

  it('streams over wss:// to a client that trusts only our CA', async () => {
    const c = await connectIngest(local.wsUrl, { ca });
    c.ws.send(JSON.stringify(PCM16_START));
    const started = await c.next('started');
    expect(started).toMatchObject({ type: 'started' });
    const before = local.relay.counters.framesReceived;
    const pcm = new Uint8Array(new Int16Array(960).fill(1000).buffer);
    for (let seq = 0; seq < 25; seq++) c.ws.send(encodeFrame({ timestampMs: seq * 20, sequence: seq, codec: CODEC_IDS.pcm16, flags: 0 }, pcm));
    await waitFor(() => (local.relay.counters.framesReceived - before >= 25 ? true : undefined), 5000, '25 frames received over wss');
    c.ws.close();
    await c.closed;
    // And a client without our CA cannot connect at all.
    await expect(connectIngest(local.wsUrl)).rejects.toThrow(/unable to verify the first certificate/);
  });

  it('serves the CA certificate, and only it, to anyone at /tls/ca.pem and /tls/ca.crt (declared public)', async () => {
    const pem = await httpsGet(`${local.httpUrl}/tls/ca.pem`, ca);
    expect(pem.status).toBe(200);
    expect(pem.type).toBe('application/x-pem-file');
    expect(pem.body.toString()).toBe(new X509Certificate(ca).toString());
    expect(pem.body.toString()).not.toMatch(/PRIVATE KEY/);
    const crt = await httpsGet(`${local.httpUrl}/tls/ca.crt`, ca);
    expect(crt.status).toBe(200);
    expect(crt.type).toBe('application/x-x509-ca-cert');
    expect(crt.body.equals(new X509Certificate(ca).raw)).toBe(true);
    const declared = local.relay.routes.filter((r) => r.url.startsWith('/tls/') && r.method === 'GET');
    expect(declared.map((r) => [r.url, r.access.kind]).sort()).toEqual([
      ['/tls/ca.crt', 'public'],
      ['/tls/ca.pem', 'public'],
    ]);
  });

  it('TAPWIRE_TLS_CERT/KEY: serves the given certificate, and no CA route', async () => {
    const own = join(dir, 'own');
    const { files } = await initLocalCa(own);
    const t = await startTestRelay({ tlsCertFile: files.serverCert, tlsKeyFile: files.serverKey });
    try {
      expect(t.relay.url).toMatch(/^https:/);
      const ownCa = readFileSync(files.caCert, 'utf8');
      expect((await httpsGet(`${t.httpUrl}/healthz`, ownCa)).status).toBe(200);
      // Trusting the other relay's CA is not enough: it is this certificate, not that CA, being served.
      await expect(httpsGet(`${t.httpUrl}/healthz`, ca)).rejects.toThrow(/unable to verify the first certificate/);
      expect(t.relay.routes.some((r) => r.url.startsWith('/tls/'))).toBe(false);
      const notCa = await httpsGet(`${t.httpUrl}/tls/ca.pem`, ownCa);
      expect(notCa.type).not.toMatch(/x-pem-file/);
    } finally {
      await t.close();
    }
  });

  it('npm start -- --tls as a process: prints the https:// URL and how to trust the CA, and answers over https', async () => {
    const dataDir = join(dir, 'process');
    const q = startRelayProcess({ args: ['--tls'], env: { ...process.env, TAPWIRE_DATA_DIR: dataDir, TAPWIRE_PORT: '0', TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_MEDIA_WORKERS: '1' } });
    try {
      const url = await q.ready;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      await waitFor(() => (/More: docs\/HTTPS\.md/.test(q.output()) ? true : undefined), 10_000, 'the trust instructions');
      const out = q.output();
      expect(out).toMatch(/HTTPS on this machine only/);
      expect(out).toMatch(/Local CA: .*tls\/ca\.pem/);
      expect(out).toMatch(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      expect(out).toMatch(/certutil -d sql:\$HOME\/\.pki\/nssdb -A -t C,, -n tapwire -i /);
      expect(out).toMatch(/update-ca-certificates/);
      expect(out).toMatch(/Certificate Trust Settings/);
      expect(out).toMatch(/Always Trust/);
      expect(out).toMatch(/certutil -addstore Root/);
      expect(out).not.toMatch(/PRIVATE KEY/);
      const procCa = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
      expect((await httpsGet(`${url}/healthz`, procCa)).status).toBe(200);
    } finally {
      q.child.kill('SIGTERM');
      await q.exited;
    }
  }, 60_000);
});

describe.skipIf(skipWithout(OPENSSL, existsSync(OPENSSL)))('a certificate the relay cannot use: one line, exit code 78', () => {
  it('cert without key, key without cert, a missing file, a file that is not PEM, a key of another certificate, --tls with files', async () => {
    const a = await initLocalCa(join(dir, 'a'));
    const b = await initLocalCa(join(dir, 'b'));
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello\n');
    const missing = join(dir, 'missing.pem');
    const [certOnly, keyOnly, noFile, notCert, notKey, mismatch, both, badMode, badArg] = await Promise.all([
      run([], { TAPWIRE_TLS_CERT: a.files.serverCert }),
      run([], { TAPWIRE_TLS_KEY: a.files.serverKey }),
      run([], { TAPWIRE_TLS_CERT: missing, TAPWIRE_TLS_KEY: a.files.serverKey }),
      run([], { TAPWIRE_TLS_CERT: notPem, TAPWIRE_TLS_KEY: a.files.serverKey }),
      run([], { TAPWIRE_TLS_CERT: a.files.serverCert, TAPWIRE_TLS_KEY: notPem }),
      run([], { TAPWIRE_TLS_CERT: a.files.serverCert, TAPWIRE_TLS_KEY: b.files.serverKey }),
      run(['--tls'], { TAPWIRE_TLS_CERT: a.files.serverCert, TAPWIRE_TLS_KEY: a.files.serverKey }),
      run([], { TAPWIRE_TLS: 'on' }),
      run(['--tls', '--verbose'], {}),
    ]);
    const cases: [typeof certOnly, RegExp][] = [
      [certOnly, /TAPWIRE_TLS_CERT is set but TAPWIRE_TLS_KEY is not/],
      [keyOnly, /TAPWIRE_TLS_KEY is set but TAPWIRE_TLS_CERT is not/],
      [noFile, /TAPWIRE_TLS_CERT names .*missing\.pem, which cannot be read \(ENOENT\)/],
      [notCert, /TAPWIRE_TLS_CERT \(.*not\.pem\) is not a PEM certificate/],
      [notKey, /TAPWIRE_TLS_KEY \(.*not\.pem\) is not an unencrypted PEM private key/],
      [mismatch, /TAPWIRE_TLS_KEY \(.*b\/server-key\.pem\) is not the key of the certificate in TAPWIRE_TLS_CERT/],
      [both, /TAPWIRE_TLS=local \(or --tls\) makes its own certificate.*choose one/],
      [badMode, /TAPWIRE_TLS must be "local"/],
    ];
    for (const [r, pattern] of cases) {
      expect(r.code, r.stderr).toBe(EXIT.config);
      expectOneLine(r.stderr, pattern);
      expect(r.stdout).not.toMatch(/Tapwire is running/);
    }
    expect(badArg.code, badArg.stderr).toBe(EXIT.usage);
    expectOneLine(badArg.stderr, /unknown argument --verbose/);
  }, 60_000);

  it('beyond loopback without TLS: a plain warning that phones will not capture, and how to fix it', async () => {
    const p = startRelayProcess({ env: { ...process.env, TAPWIRE_HOST: '0.0.0.0', TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: join(dir, 'exposed'), TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_MEDIA_WORKERS: '1' } });
    try {
      expect(await p.ready).toMatch(/^http:\/\//);
      const line = await waitFor(() => p.output().split('\n').find((l) => l.startsWith('tapwire: warning:')), 10_000, 'the warning');
      expect(line).toMatch(/phones and other machines will not be able to capture/);
      expect(line).toMatch(/https:\/\/ or localhost/);
      expect(line).toMatch(/npm start -- --tls/);
      expect(line).toMatch(/TAPWIRE_TLS_CERT and TAPWIRE_TLS_KEY/);
      expect(line).toMatch(/docs\/DEPLOY\.md/);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    // On loopback there is nothing to warn about, nor behind a trusted proxy there (which serves HTTPS: docs/DEPLOY.md).
    for (const [name, extra] of [['loopback', {}], ['proxied', { TAPWIRE_TRUSTED_PROXIES: '127.0.0.1' }]] as const) {
      const lo = startRelayProcess({ env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: join(dir, name), TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_MEDIA_WORKERS: '1', ...extra } });
      try {
        await lo.ready;
        await new Promise((r) => setTimeout(r, 500));
        expect(lo.output()).toMatch(/Tapwire is running/);
        expect(lo.output(), name).not.toMatch(/warning: Tapwire listens/);
      } finally {
        lo.child.kill('SIGTERM');
        await lo.exited;
      }
    }
  }, 60_000);
});
