/**
 * An Icecast 2.4 server for bench/listeners.ts to compare the relay's listener fan-out with:
 * Debian's `icecast2` with a generated config in a temp dir, fed one Opus stream by ffmpeg.
 *
 * Why this shape: the comparison is fair only when Icecast serves what the relay serves,
 * so the feed is the benchmark's own speech-like signal (the same one the relay's simulated
 * station sends), encoded by ffmpeg's libopus at 32 kbit/s, 48 kHz mono, 20 ms frames, paced
 * in real time (`-re`), in Ogg pages of `pageMs` (100 ms pages against the relay's 100 ms
 * WebM clusters; 20 ms pages against its one-packet messages). Burst-on-connect is off
 * (`<burst-size>0</burst-size>`), so a listener gets the live edge and nothing older, as on
 * the relay. Icecast refuses to run as root: then it drops to nobody:nogroup (`changeowner`)
 * and its temp dir is made writable for that user.
 *
 *   const ice = await startIcecast({ dir, wavPath, pageMs: 100, maxClients: 6000, cpus: '1', feederCpus: '0' });
 *   ... listeners GET http://127.0.0.1:${ice.port}${ice.mount} ...
 *   await ice.stop();
 *
 * Needs `icecast2` and `ffmpeg` with libopus (Debian: `apt-get install icecast2 ffmpeg`);
 * `icecastTools()` says which are missing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export const ICECAST_BIN = '/usr/bin/icecast2';
export const FFMPEG_BIN = '/usr/bin/ffmpeg';
const MOUNT = '/live.opus';
const SOURCE_PASSWORD = 'bench-source';

export interface IcecastOptions {
  /** An empty temp dir for the config and logs (removed by the caller). */
  dir: string;
  /** A 48 kHz mono WAV file that ffmpeg loops as the station's audio. */
  wavPath: string;
  /** Ogg page duration: the send cadence, ms. */
  pageMs: number;
  /** Listener cap written into the config (raise it above the benchmark's largest step). */
  maxClients: number;
  /** `taskset -c` list for icecast2 (every thread), or null for anywhere. */
  cpus: string | null;
  /** `taskset -c` list for the ffmpeg feeder (the load side), or null for anywhere. */
  feederCpus: string | null;
  /** Soft RLIMIT_NOFILE for icecast2 (at most the hard limit). */
  nofile: number;
  /** Called with every process started (icecast2, ffmpeg), so the caller can kill them on Ctrl-C. */
  track?: (child: ChildProcess) => void;
}

export interface IcecastServer {
  /** icecast2's process id (every thread is in its /proc stat). */
  pid: number;
  port: number;
  mount: string;
  /** Stops ffmpeg and icecast2; safe to call twice. */
  stop(): Promise<void>;
}

/** Which of the two tools are missing, as install advice; null when both are present. */
export function icecastTools(): string | null {
  const missing = [ICECAST_BIN, FFMPEG_BIN].filter((p) => !existsSync(p));
  if (missing.length === 0) return null;
  return `${missing.join(' and ')} missing: install with \`apt-get install icecast2 ffmpeg\` (Debian), or run \`--servers relay\``;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function icecastXml(o: { port: number; dir: string; maxClients: number; asRoot: boolean }): string {
  // queue-size: how far (bytes) a listener may fall behind before Icecast drops it (its default, 512 KB).
  return `<icecast>
  <location>tapwire-bench</location>
  <admin>bench@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>${o.maxClients}</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>0</burst-on-connect>
    <burst-size>0</burst-size>
  </limits>
  <authentication>
    <source-password>${SOURCE_PASSWORD}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>${SOURCE_PASSWORD}</admin-password>
  </authentication>
  <listen-socket>
    <port>${o.port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>${MOUNT}</mount-name>
    <max-listeners>${o.maxClients}</max-listeners>
    <burst-size>0</burst-size>
  </mount>
  <fileserve>0</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>${o.dir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>${o.asRoot ? '\n    <changeowner><user>nobody</user><group>nogroup</group></changeowner>' : ''}
  </security>
</icecast>
`;
}

/** `prlimit` (soft open-file limit) then `taskset` (cores) around a command, as argv. */
function wrapped(argv: string[], cpus: string | null, nofile: number | null): string[] {
  const pinned = cpus ? ['taskset', '-c', cpus, ...argv] : argv;
  return nofile ? ['prlimit', `--nofile=${nofile}:`, '--', ...pinned] : pinned;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts icecast2 and the ffmpeg feeder; resolves once the mount serves audio. */
export async function startIcecast(opts: IcecastOptions): Promise<IcecastServer> {
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(opts.dir, 0o777); // icecast2, as nobody, writes its logs here
  const conf = join(opts.dir, 'icecast.xml');
  writeFileSync(conf, icecastXml({ port, dir: opts.dir, maxClients: opts.maxClients, asRoot }));

  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  };
  const start = (argv: string[], name: string): ChildProcess => {
    const c = spawn(argv[0], argv.slice(1), { cwd: opts.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    c.once('exit', (code, signal) => {
      if (!stopped) console.error(`bench: ${name} exited early (${code ?? signal}): ${err.trim()}`);
    });
    children.push(c);
    opts.track?.(c);
    return c;
  };

  try {
    // prlimit and taskset exec the command, so the child's pid is icecast2's.
    const ice = start(wrapped([ICECAST_BIN, '-c', conf], opts.cpus, opts.nofile), 'icecast2');
    await waitFor(async () => (await httpStatus(port, '/')) !== null, 10_000, () => `icecast2 did not listen on ${port}: ${errorLog(opts.dir)}`);
    const ffmpeg = [
      FFMPEG_BIN, '-hide_banner', '-nostdin', '-loglevel', 'error',
      // -re releases input as its time comes, one demuxed packet at a time: packets of 20 ms
      // (960 16-bit samples; the WAV demuxer's default is 4096 bytes, 43 ms) so that pages
      // leave at the pace they are due, not in pairs.
      '-re', '-stream_loop', '-1', '-max_size', '1920', '-i', opts.wavPath,
      '-c:a', 'libopus', '-b:a', '32k', '-ac', '1', '-ar', '48000', '-frame_duration', '20',
      '-page_duration', String(opts.pageMs * 1000),
      '-content_type', 'audio/ogg', '-f', 'ogg',
      `icecast://source:${SOURCE_PASSWORD}@127.0.0.1:${port}${MOUNT}`,
    ];
    start(wrapped(ffmpeg, opts.feederCpus, null), 'ffmpeg');
    await waitFor(async () => (await httpStatus(port, MOUNT)) === 200, 10_000, () => `the mount ${MOUNT} did not come up: ${errorLog(opts.dir)}`);
    // Threads started before taskset took effect, if any, join the core too.
    if (opts.cpus) execFileSync('taskset', ['-a', '-p', '-c', opts.cpus, String(ice.pid)], { stdio: 'ignore' });
    return { pid: ice.pid!, port, mount: MOUNT, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, why: () => string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(why());
}

/** The status code of a GET (read no further than the status line), or null when nothing answers. */
function httpStatus(port: number, path: string): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let head = '';
    const done = (v: number | null): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2000, () => done(null));
    s.once('error', () => done(null));
    s.once('connect', () => s.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`));
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const m = /^HTTP\/1\.\d (\d{3})/.exec(head);
      if (m) done(Number(m[1]));
      else if (head.length > 64) done(null);
    });
  });
}

function errorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8').split('\n').slice(-5).join('\n');
  } catch {
    return '(no error.log)';
  }
}
