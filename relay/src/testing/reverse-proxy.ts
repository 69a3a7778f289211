/**
 * Debian's nginx and Caddy as real processes in front of a test relay, each running the
 * config file the project ships (deploy/nginx/tapwire.conf, deploy/caddy/Caddyfile) with
 * only its addresses and certificate paths rewritten: the upstream `127.0.0.1:8080` to the
 * test relay, the listening ports to free ones on 127.0.0.1, the certificate to a
 * self-signed one for 127.0.0.1 made with openssl. Everything lives in a temporary
 * directory; no root, no system configuration touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The shipped files, read as they are. */
export const NGINX_CONF = join(ROOT, 'deploy/nginx/tapwire.conf');
export const CADDYFILE = join(ROOT, 'deploy/caddy/Caddyfile');
/** The upstream address both files name: the relay of deploy/systemd/tapwire.service. */
export const UPSTREAM_PLACEHOLDER = '127.0.0.1:8080';
const CERT_PLACEHOLDER = '/etc/tapwire/tls/relay.crt';
const KEY_PLACEHOLDER = '/etc/tapwire/tls/relay.key';

export interface RunningProxy {
  /** https://127.0.0.1:<port> */
  httpsUrl: string;
  /** http://127.0.0.1:<port> where the proxy redirects plain HTTP, or null when it was not kept (Caddy). */
  httpUrl: string | null;
  /** The certificate to trust (self-signed, for 127.0.0.1). */
  ca: string;
  /** What the proxy wrote on stderr (for a failure's message). */
  output(): string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (free when asked; the proxy binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Replaces `from` with `to` in a shipped file, and fails loudly when the file no longer has it. */
function rewrite(text: string, from: string | RegExp, to: string, file: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`${file} no longer contains ${from}: the test rewrites it, so update the test with the file`);
  return typeof from === 'string' ? text.replaceAll(from, to) : text.replace(from, to);
}

/** A self-signed certificate and key for 127.0.0.1 (P-256, a day), by openssl. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'relay.crt');
  const key = join(dir, 'relay.key');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => out };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Waits until GET /healthz answers 200 through the proxy, or says what the proxy printed. */
async function untilServing(proxy: RunningProxy, child: ChildProcess): Promise<void> {
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the proxy exited with ${child.exitCode}: ${proxy.output()}`);
      const res = await httpsGet(`${proxy.httpsUrl}/healthz`, proxy.ca).catch(() => null);
      return res?.status === 200 ? true : undefined;
    },
    15_000,
    'the proxy to serve /healthz',
  );
}

/** nginx from the shipped tapwire.conf, inside a minimal nginx.conf of its own, as a foreground process. */
export async function startNginx(relayPort: number): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-nginx-'));
  const { cert, key } = selfSignedCert(dir);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  let conf = readFileSync(NGINX_CONF, 'utf8');
  conf = rewrite(conf, UPSTREAM_PLACEHOLDER, `127.0.0.1:${relayPort}`, NGINX_CONF);
  conf = rewrite(conf, /^\s*listen 80;$/m, `    listen 127.0.0.1:${httpPort};`, NGINX_CONF);
  conf = rewrite(conf, /^\s*listen 443 ssl;$/m, `    listen 127.0.0.1:${httpsPort} ssl;`, NGINX_CONF);
  conf = rewrite(conf, /^\s*listen \[::\]:80;\n/m, '', NGINX_CONF);
  conf = rewrite(conf, /^\s*listen \[::\]:443 ssl;\n/m, '', NGINX_CONF);
  conf = rewrite(conf, CERT_PLACEHOLDER, cert, NGINX_CONF);
  conf = rewrite(conf, KEY_PLACEHOLDER, key, NGINX_CONF);
  writeFileSync(join(dir, 'tapwire.conf'), conf);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  // As root, nginx's workers would otherwise switch to nobody, who may not read this directory.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${user}worker_processes 1;\nevents { worker_connections 512; }\nhttp {\n  access_log off;\n` +
      ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((d) => `  ${d === 'body' ? 'client_body' : d}_temp_path ${join(dir, d)};\n`).join('') +
      `  include ${join(dir, 'tapwire.conf')};\n}\n`,
  );
  const { child, output } = startProcess(commandPath('nginx') ?? 'nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; master_process on; pid ${join(dir, 'nginx.pid')}; error_log stderr;`], process.env);
  return serving({ child, output, dir, cert, httpsPort, httpUrl: `http://127.0.0.1:${httpPort}` });
}

/**
 * Caddy from the shipped Caddyfile, with a global block of the test's own in front (no
 * admin endpoint, no redirect listener on port 80) and HOME and the XDG directories in the
 * temporary directory.
 */
export async function startCaddy(relayPort: number): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-caddy-'));
  const { cert, key } = selfSignedCert(dir);
  const httpsPort = await freePort();
  let file = readFileSync(CADDYFILE, 'utf8');
  file = rewrite(file, UPSTREAM_PLACEHOLDER, `127.0.0.1:${relayPort}`, CADDYFILE);
  file = rewrite(file, /^relay\.site\.example \{$/m, `https://127.0.0.1:${httpsPort} {`, CADDYFILE);
  file = rewrite(file, CERT_PLACEHOLDER, cert, CADDYFILE);
  file = rewrite(file, KEY_PLACEHOLDER, key, CADDYFILE);
  const global = '{\n\tadmin off\n\tauto_https disable_redirects\n}\n\n';
  const path = join(dir, 'Caddyfile');
  writeFileSync(path, global + file);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const { child, output } = startProcess(commandPath('caddy') ?? 'caddy', ['run', '--config', path, '--adapter', 'caddyfile'], env);
  return serving({ child, output, dir, cert, httpsPort, httpUrl: null });
}

/** A started proxy once it serves; stopped, its directory removed, if it never does. */
async function serving(p: { child: ChildProcess; output: () => string; dir: string; cert: string; httpsPort: number; httpUrl: string | null }): Promise<RunningProxy> {
  const proxy: RunningProxy = {
    httpsUrl: `https://127.0.0.1:${p.httpsPort}`,
    httpUrl: p.httpUrl,
    ca: readFileSync(p.cert, 'utf8'),
    output: p.output,
    async close() {
      await stopProcess(p.child);
      rmSync(p.dir, { recursive: true, force: true });
    },
  };
  try {
    await untilServing(proxy, p.child);
  } catch (err) {
    await proxy.close();
    throw err;
  }
  return proxy;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTPS request trusting `ca`, from `localAddress` when given (another loopback address is
 * another client). `expectContinue`: the body waits for the server's 100 Continue (RFC 9110
 * §10.1.1), so a server that refuses it from its headers answers before any is sent.
 */
export function httpsRequest(url: string, ca: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; localAddress?: string; expectContinue?: boolean } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers = opts.expectContinue === true ? { ...opts.headers, expect: '100-continue' } : opts.headers;
    const req = request(url, { method: opts.method ?? 'GET', headers, ca, localAddress: opts.localAddress, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    // A server may answer before the body is all sent (a 413) and close: the answer counts, as in a browser.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (opts.expectContinue === true) req.once('continue', () => req.end(opts.body));
    else req.end(opts.body);
  });
}

export const httpsGet = (url: string, ca: string, headers: Record<string, string> = {}): Promise<HttpsAnswer> => httpsRequest(url, ca, { headers });

/** Where `command` is: on the PATH, or in /usr/sbin (nginx, for a user whose PATH lacks it); null when nowhere. */
export function commandPath(command: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  return existsSync(`/usr/sbin/${command}`) ? `/usr/sbin/${command}` : null;
}
