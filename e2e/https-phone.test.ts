/**
 * A phone on the LAN, played by headless Chromium in a network namespace of its own: it
 * reaches the relay by the host's address on a veth pair (not loopback, so the page is a
 * secure context only over https://), trusts the local CA through its NSS database (as a
 * phone that installed ca.pem does; no --ignore-certificate-errors), captures a fake
 * microphone over https:// and wss://, and the relay measures the file's level. The same
 * page over plain http:// on that address shows the needs-HTTPS explanation instead.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceDetail } from '../protocol/api.ts';
import type { SnapshotEntry } from '../protocol/optimizer-api.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { IN_CI, skipWithout } from '../relay/src/testing/tool-required.ts';
import { initLocalCa, OPENSSL } from '../relay/src/tls/local-ca.ts';
import { navigate, signIn } from './support/app.ts';
import { rmsDbfs, steadySine, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const CERTUTIL = '/usr/bin/certutil';
const tools = { ip: existsSync(IP), certutil: existsSync(CERTUTIL), chromium: hasChromium, openssl: existsSync(OPENSSL) };

// Names unique to this run: a namespace, a veth pair (interface names are at most 15
// characters) and a /24 of 10.213.x.0 for the pair.
const run = randomBytes(3).toString('hex');
const NS = `tapwire-phone-${run}`;
const HOST_IF = `twh${run}`;
const PHONE_IF = `twp${run}`;
const subnet = `10.213.${randomInt(0, 256)}`;
const HOST_IP = `${subnet}.1`;
const PHONE_IP = `${subnet}.2`;

const ip = (...args: string[]): void => void execFileSync(IP, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });

/** Creates the namespace and the pair; false (and nothing left behind) when this user may not. */
function createNetwork(): boolean {
  try {
    ip('netns', 'add', NS);
  } catch (err) {
    console.warn(`https-phone: cannot create a network namespace (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); skipping (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)`);
    return false;
  }
  try {
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', PHONE_IF);
    ip('link', 'set', PHONE_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/24`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('-n', NS, 'addr', 'add', `${PHONE_IP}/24`, 'dev', PHONE_IF);
    ip('-n', NS, 'link', 'set', PHONE_IF, 'up');
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    return true;
  } catch (err) {
    removeNetwork();
    throw err;
  }
}

function removeNetwork(): void {
  // Deleting the namespace deletes its end of the pair, and with it the host's end.
  for (const args of [['netns', 'del', NS], ['link', 'del', HOST_IF]]) {
    try {
      ip(...args);
    } catch {
      // Already gone.
    }
  }
}

const haveTools =
  !skipWithout(`ip (${IP})`, tools.ip) &&
  !skipWithout(`certutil (${CERTUTIL}, Debian package libnss3-tools)`, tools.certutil) &&
  !skipWithout(`Chromium (${CHROMIUM_PATH})`, tools.chromium) &&
  !skipWithout(`openssl (${OPENSSL})`, tools.openssl);
const network = haveTools && createNetwork();
if (haveTools && !network && IN_CI) console.warn('https-phone: CI=true, but a network namespace needs privileges this runner lacks: the test is skipped');

const dir = mkdtempSync(join(tmpdir(), 'tapwire-phone-'));
// A 440 Hz sine at -12 dBFS peak: RMS -15.05 dBFS. 10 s is a whole number of cycles.
const tone = steadySine(440, -12, 10);
const FILE_RMS_DBFS = rmsDbfs(tone);

/** GET over https, trusting our CA alone. */
function getJson<T>(url: string, token: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: timeout`)));
  });
}

describe.skipIf(!network)('a phone on the LAN: capture over https:// with the local CA (Chromium in a network namespace)', () => {
  let secure: TestRelay;
  let plain: TestRelay;
  let browser: Browser;
  let ca: string;
  const dataDir = join(dir, 'data');

  beforeAll(async () => {
    ensureAppBuilt();
    // `npm run tls -- init --ip <host address>`, then the relay starts with TAPWIRE_TLS=local on the same data dir.
    const { files } = await initLocalCa(join(dataDir, 'tls'), { extra: { ips: [HOST_IP] } });
    ca = readFileSync(files.caCert, 'utf8');
    secure = await startTestRelay({ host: HOST_IP, tls: 'local', dataDir, appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    plain = await startTestRelay({ host: HOST_IP, appDir: BUILD_DIR });

    // The phone's HOME: an NSS database that trusts our CA for TLS servers (what installing ca.pem does).
    const home = join(dir, 'home');
    const nssdb = join(home, '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    execFileSync(CERTUTIL, ['-d', `sql:${nssdb}`, '-N', '--empty-password'], { timeout: 10_000 });
    execFileSync(CERTUTIL, ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', 'tapwire-ca', '-i', files.caCert], { timeout: 10_000 });

    // Chromium, run inside the namespace by a wrapper playwright takes for the browser.
    const wrapper = join(dir, 'chromium-in-namespace.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${IP} netns exec ${NS} ${CHROMIUM_PATH} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await launchChromium({ micWav: writeWav(join(dir, 'tone.wav'), tone), executablePath: wrapper, env: { ...process.env, HOME: home } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await secure?.close();
    await plain?.close();
    removeNetwork();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens https://<LAN address>/ trusting the CA, captures, and the relay measures the file within 1 dB', async () => {
    const { page } = browser;
    expect(secure.httpUrl).toBe(`https://${HOST_IP}:${new URL(secure.httpUrl).port}`);
    expect(secure.relay.isLoopbackOnly).toBe(false);
    // The browser runs inside the namespace: the phone is another host on the veth pair.
    expect(execFileSync(IP, ['netns', 'pids', NS], { encoding: 'utf8', timeout: 10_000 }).trim(), 'processes in the namespace').not.toBe('');
    const token = secure.relay.adminToken as string;
    await signIn(page, secure.httpUrl, token);
    // The page is a secure, cross-origin isolated context, reached from the namespace.
    expect(await page.evaluate(() => [globalThis.isSecureContext, globalThis.crossOriginIsolated, location.protocol])).toEqual([true, true, 'https:']);
    // The phone downloads the CA from the relay: the same certificate.
    const served = await page.evaluate(async () => (await fetch('/tls/ca.pem')).text());
    expect(served.trim()).toBe(ca.trim());

    await navigate(page, 'Capture');
    expect(await page.getByTestId('needs-https').count()).toBe(0);
    await page.getByTestId('label').fill('phone-tone');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 20_000 });
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;

    // The station came from the namespace's address, over wss://.
    const trace = (await getJson<{ trace: TraceDetail }>(`${secure.httpUrl}/api/traces/${traceId}`, token, ca)).trace;
    expect(trace.stations).toHaveLength(1);
    expect(trace.stations[0]).toMatchObject({ label: 'phone-tone', live: true });
    const buckets = await waitFor(async () => {
      const body = await getJson<{ buckets?: SnapshotEntry[] }>(`${secure.httpUrl}/api/optimizer/snapshot?trace_id=${traceId}&limit=100`, token, ca);
      const b = [...(body.buckets ?? [])].sort((x, y) => x.bucket_ts.localeCompare(y.bucket_ts));
      return b.length >= 2 ? b : undefined;
    }, 30_000, 'two complete buckets');
    // The second bucket is wholly inside the capture.
    const preRms = buckets[1].metrics.PRE['pcm.rms_dbfs']!.avg;
    console.log(`https-phone: file RMS ${FILE_RMS_DBFS.toFixed(2)} dBFS; relay PRE bucket ${preRms.toFixed(2)} dBFS (Chromium at ${PHONE_IP} -> https://${HOST_IP})`);
    expect(Math.abs(preRms - FILE_RMS_DBFS), `PRE rms ${preRms} vs file ${FILE_RMS_DBFS.toFixed(2)}`).toBeLessThan(1);

    await page.getByTestId('capture-toggle').click();
    await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
  }, 120_000);

  it('the same page over plain http:// on that address explains that it needs HTTPS instead of failing silently', async () => {
    const { page } = browser;
    const port = new URL(plain.httpUrl).port;
    await page.goto(`${plain.httpUrl}/capture`);
    const notice = page.getByTestId('needs-https');
    await notice.waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => [globalThis.isSecureContext, typeof navigator.mediaDevices])).toEqual([false, 'undefined']);
    const text = (await notice.textContent()) ?? '';
    expect(text).toMatch(/Capture needs HTTPS/);
    expect(text).toMatch(/microphone/);
    expect(text).toMatch(/npm start -- --tls/);
    expect(await page.getByTestId('https-link').getAttribute('href')).toBe(`https://${HOST_IP}:${port}/capture`);
    // This relay serves no CA (it has no TLS), so the page offers no download of one.
    expect(await page.getByTestId('ca-link').count()).toBe(0);
    // No capture form behind the notice.
    expect(await page.getByTestId('capture-toggle').count()).toBe(0);
  }, 60_000);
});
