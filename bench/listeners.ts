/**
 * Live listening fan-out: what one station's listeners cost the relay, side by
 * side with Icecast in one run, through the same client harness at the same join rate.
 *
 *   npm run bench:listeners -- [--listeners 1000,5000] [--seconds 20] [--join-rate 500]
 *                              [--cadence 100,20] [--servers icecast,relay] [--pin yes|no]
 *                              [--settle 3] [--idle-settle 30]
 *
 * For each send cadence, each server in turn (in `--servers` order) is started, fed one
 * live 32 kbit/s Opus station, and listened to by N listeners, N growing through the
 * `--listeners` steps (listeners join at `--join-rate` a second and stay for the next step):
 * - Icecast 2.4 (`bench/icecast.ts`): ffmpeg encodes the station's audio into Ogg pages of
 *   the cadence (20, 100 or 200 ms, ...), no burst on connect; listeners `GET` the mount.
 * - The relay (a real process, `startRelayProcess`): one simulated station streams Opus
 *   48 kHz in real time to `/ws/ingest`; listeners open `/ws/listen?stream_id=..` with
 *   `mode=mse` and the relay's cluster duration set to the cadence (100 ms), or
 *   `mode=packets` for 20 ms (one Opus packet per message).
 * The listeners are `bench/listener-clients.ts`, a child process.
 *
 * Pinned (the default, cpu-pinning.ts): the server, every thread, on core 1; this process
 * (the relay's simulated station), ffmpeg and the harness on core 0, so the server's CPU
 * is its own (including the loopback TCP work of its sends). The harness costs about 7 us
 * per message it receives, so one core of clients holds about 10,000 listeners at 100 ms
 * and 3,000 at 20 ms (a row says when the harness saturated: its figures are then the
 * harness's); the 15,000-listener capacity figure is an unpinned run (`--pin no`). Every
 * process's soft open-file limit is raised to the hard limit (prlimit).
 *
 * Per step, after every listener joined and `--settle` seconds, one `--seconds` window:
 * - server CPU per listener-second, µs: the server's CPU seconds from /proc (every thread)
 *   over listeners × window seconds; also net of the idle server (the same server with its
 *   station running and no listener, measured `--idle-settle` s after the start: the relay's
 *   start-up work takes about a minute to settle, docs/PERFORMANCE.md), and of the listeners
 *   added since the step before (which leaves the fixed costs out);
 * - lag behind live (p50/p99/max, ms), and the spread (p99, ms) of the same media time's
 *   arrival over the listeners, the fan-out's own part of it: see listener-clients.ts;
 * - listeners at full rate: media time advanced by at least 97 % of the window;
 * - memory per listener: the server's RSS over its idle RSS, over N.
 * Every process started is killed at the end, on error and on Ctrl-C.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LISTEN_PATH } from '../protocol/listen.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { encodeWav } from '../relay/src/audio/wav.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { BENCHMARK_LIMITS, startRelayProcess } from '../relay/src/testing/relay-process.ts';
import { float32ToInt16 } from '../worklets/dsp/pcm.ts';
import { cpuPlan, pinSelf } from './cpu-pinning.ts';
import { icecastTools, startIcecast } from './icecast.ts';
import type { FromHarness, GrowReport, ListenTarget, ToHarness, WindowReport } from './listener-clients.ts';
import { procStat } from './proc-stat.ts';

const { values } = parseArgs({
  options: {
    listeners: { type: 'string', default: '1000,5000' },
    seconds: { type: 'string', default: '20' },
    'join-rate': { type: 'string', default: '500' },
    cadence: { type: 'string', default: '100,20' },
    servers: { type: 'string', default: 'icecast,relay' },
    pin: { type: 'string', default: 'yes' },
    settle: { type: 'string', default: '3' },
    'idle-settle': { type: 'string', default: '30' },
  },
});
const steps = values.listeners.split(',').map(Number).sort((a, b) => a - b);
const windowS = Number(values.seconds);
const joinRate = Number(values['join-rate']);
const cadences = values.cadence.split(',').map(Number);
const settleS = Number(values.settle);
const idleSettleS = Number(values['idle-settle']);
let servers = values.servers.split(',') as ServerKind[];
type ServerKind = 'icecast' | 'relay';
for (const s of servers) if (s !== 'icecast' && s !== 'relay') throw new TypeError(`--servers takes icecast and/or relay, got ${s}`);
// 20 ms: packets (one per message); longer: WebM clusters of that length (the relay's default is 200 ms).
for (const c of cadences) if (!(Number.isInteger(c) && c % 20 === 0 && c >= 20 && c <= 1000)) throw new TypeError(`--cadence takes multiples of 20 ms up to 1000 (20: packets; more: WebM clusters), got ${c}`);
if (steps.some((n) => !Number.isInteger(n) || n < 1)) throw new TypeError(`--listeners takes counts, got ${values.listeners}`);

/** The listening goals: below Icecast's cost per listener-second, and 15,000 listeners. */
const GOAL_LISTENERS = 15_000;
/** The idle server is measured over this many seconds, after its station has run for `--idle-settle`. */
const IDLE_WINDOW_S = 5;
/** Above this share of its core, the harness, not the server, may be what limits delivery. */
const HARNESS_SATURATED_CORES = 0.9;

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A figure for the table: '-' when there is none (NaN crosses IPC as null). */
const fmt = (v: number | null, digits = 1): string => (v !== null && Number.isFinite(v) ? v.toFixed(digits) : '-');

// ------------------------------------------------------------------ processes and temp dirs, removed on every exit

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
function track(c: ChildProcess): void {
  children.add(c);
  c.once('exit', () => children.delete(c));
}
function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}; stopping every process started`);
    killAll();
    process.exit(130);
  });
}

// ------------------------------------------------------------------ machine and limits

function machine(): string {
  let distro = os.type();
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? distro;
  } catch {
    // not Linux: keep os.type()
  }
  const cpus = os.cpus();
  return `${cpus.length} vCPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${distro}, Node ${process.version}`;
}

function revision(): string {
  try {
    const rev = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${rev} with changes` : rev;
  } catch {
    return 'not a git checkout';
  }
}

/** The hard RLIMIT_NOFILE: the soft limit of every process started is raised to it. */
function hardNofile(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
}

function raiseNofile(pid: number, nofile: number): void {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${nofile}:`], { stdio: 'ignore' });
}

function icecastVersion(): string {
  try {
    return execFileSync('/usr/bin/icecast2', ['-v'], { encoding: 'utf8' }).trim();
  } catch {
    return 'Icecast';
  }
}

// ------------------------------------------------------------------ the harness

class Harness {
  readonly child: ChildProcess;

  constructor(nofile: number) {
    // The harness inherits this process's core; prlimit execs node, so IPC passes through.
    const argv = ['prlimit', `--nofile=${nofile}:`, '--', process.execPath, '--import', 'tsx', join(ROOT, 'bench/listener-clients.ts')];
    this.child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    track(this.child);
  }

  private ask<T extends FromHarness['type']>(msg: ToHarness, type: T, timeoutMs: number): Promise<Extract<FromHarness, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`listener harness: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m: FromHarness): void => {
        if (m.type === type) done(null, m as Extract<FromHarness, { type: T }>);
      };
      const onExit = (code: number | null): void => done(new Error(`listener harness exited (${code}) waiting for ${type}`));
      const done = (err: Error | null, m?: Extract<FromHarness, { type: T }>): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m!);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(msg);
    });
  }

  async grow(target: ListenTarget, listeners: number): Promise<GrowReport> {
    const timeout = (listeners / joinRate) * 1000 * 2 + 60_000;
    return (await this.ask({ cmd: 'grow', target, listeners, joinRate }, 'grown', timeout)).grow;
  }

  async mark(): Promise<void> {
    await this.ask({ cmd: 'mark' }, 'marked', 10_000);
  }

  async report(): Promise<WindowReport> {
    return (await this.ask({ cmd: 'report' }, 'report', 10_000)).report;
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ cmd: 'exit' } satisfies ToHarness);
    await Promise.race([exited, sleep(5000)]);
    this.child.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------ the servers under test

interface ServerUnderTest {
  label: string;
  pid: number;
  target: ListenTarget;
  stop(): Promise<void>;
}

const speech = speechLike(-20, 10, 48000, 7);

async function startIcecastServer(dir: string, cadenceMs: number, plan: { relay: string | null; load: string | null }, nofile: number): Promise<ServerUnderTest> {
  const pcm = new Int16Array(speech.length);
  float32ToInt16(speech, pcm);
  const wavPath = join(dir, 'speech.wav');
  writeFileSync(wavPath, encodeWav(pcm, 48000));
  const ice = await startIcecast({ dir, wavPath, pageMs: cadenceMs, maxClients: steps[steps.length - 1] + 100, cpus: plan.relay, feederCpus: plan.load, nofile, track });
  return {
    label: `icecast, ${cadenceMs} ms Ogg pages`,
    pid: ice.pid,
    target: { kind: 'icecast', host: '127.0.0.1', port: ice.port, path: ice.mount },
    stop: ice.stop,
  };
}

async function startRelayServer(dir: string, cadenceMs: number, plan: { relay: string | null; load: string | null }, nofile: number): Promise<ServerUnderTest> {
  const mode = cadenceMs === 20 ? 'packets' : 'mse';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...BENCHMARK_LIMITS,
    TAPWIRE_PORT: '0',
    TAPWIRE_HOST: '127.0.0.1',
    TAPWIRE_DATA_DIR: dir,
    TAPWIRE_LOG_LEVEL: 'warn',
    // Every listener comes from one address, to one stream: lift those caps above the largest step.
    TAPWIRE_MAX_LISTENERS: String(steps[steps.length - 1] + 100),
    TAPWIRE_MAX_LISTENERS_PER_ADDRESS: String(steps[steps.length - 1] + 100),
    TAPWIRE_MAX_LISTENERS_PER_STREAM: String(steps[steps.length - 1] + 100),
    // mode=mse: one WebM cluster per cadence (mode=packets ignores it).
    TAPWIRE_LISTEN_CLUSTER_MS: String(cadenceMs),
    // The same 32 kbit/s as Icecast's feed, whatever the relay's default.
    TAPWIRE_LISTEN_BITRATE: '32000',
    // No burst on connect, as Icecast is configured: the same bytes per join on both sides.
    TAPWIRE_LISTEN_JOIN_BURST_MS: '0',
  };
  const relayProcess = startRelayProcess({ env, echoStderr: true, cpus: plan.relay });
  const relay = relayProcess.child;
  track(relay);
  let pumping = false;
  let station: SimulatedStation | null = null;
  let pumpLoop: Promise<void> = Promise.resolve();
  const stop = async (): Promise<void> => {
    pumping = false;
    await pumpLoop;
    station?.terminate();
    if (relay.exitCode !== null || relay.signalCode !== null) return;
    relay.kill('SIGTERM');
    await Promise.race([relayProcess.exited, sleep(15_000)]);
    relay.kill('SIGKILL');
  };
  try {
    const url = await relayProcess.ready;
    raiseNofile(relay.pid!, nofile);
    const audio = encodeAudio(speech, 48000, 'opus');
    station = new SimulatedStation({ url: `${url.replace('http', 'ws')}/ws/ingest`, audio, label: 'bench-listeners', durationS: 24 * 3600 });
    const started = await station.connect();
    pumping = true;
    const s = station;
    pumpLoop = (async () => {
      while (pumping) {
        s.pump(performance.now());
        await sleep(4);
      }
    })();
    const u = new URL(url);
    const query = `stream_id=${encodeURIComponent(started.stream_id)}&tap=POST&mode=${mode}`;
    return {
      label: mode === 'mse' ? `relay, mse, ${cadenceMs} ms clusters` : 'relay, packets (20 ms)',
      pid: relay.pid!,
      target: { kind: mode === 'mse' ? 'webm' : 'packets', host: u.hostname, port: Number(u.port), path: `${LISTEN_PATH}?${query}` },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ------------------------------------------------------------------ one server, every step

/**
 * Waits `seconds` while sampling the server's RSS once a second; returns the median, which
 * a garbage collection in the window moves less than a single reading.
 */
async function medianRssOver(pid: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, end - performance.now()));
    samples.push(procStat(pid).rssMb);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

interface Row {
  server: ServerKind;
  label: string;
  cadenceMs: number;
  listeners: number;
  grow: GrowReport;
  window: WindowReport;
  serverCores: number;
  usPerListenerS: number;
  usPerListenerSNet: number;
  /** CPU of the listeners added since the previous step, per listener-second (NaN for the first step). */
  usPerListenerSMarginal: number;
  rssMb: number;
  kbPerListener: number;
  /** RSS of the listeners added since the previous step, per listener (NaN for the first step). */
  kbPerListenerMarginal: number;
  harnessCores: number;
  /** Pinned, and the harness used most of its core: delivery and lag may be the harness's. */
  harnessSaturated: boolean;
  ok: boolean;
  notes: string[];
}

async function runServer(server: ServerKind, cadenceMs: number, plan: { relay: string | null; load: string | null }, nofile: number): Promise<Row[]> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tapwire-listeners-'));
  tempDirs.add(dir);
  let sut: ServerUnderTest | null = null;
  let harness: Harness | null = null;
  const rows: Row[] = [];
  try {
    sut = server === 'icecast' ? await startIcecastServer(dir, cadenceMs, plan, nofile) : await startRelayServer(dir, cadenceMs, plan, nofile);
    await sleep(idleSettleS * 1000);
    const i0 = procStat(sut.pid);
    const idleRssMb = await medianRssOver(sut.pid, IDLE_WINDOW_S);
    const i1 = procStat(sut.pid);
    const idleCores = (i1.cpuS - i0.cpuS) / IDLE_WINDOW_S;
    console.log(`-- ${sut.label} (pid ${sut.pid}): idle with its station ${(idleCores * 100).toFixed(2)} % of a core, RSS ${idleRssMb.toFixed(1)} MB`);
    let previous: { n: number; cpuPerS: number; rssMb: number } | null = null;

    harness = new Harness(nofile);
    for (const n of steps) {
      const grow = await harness.grow(sut.target, n);
      const failed = Object.entries(grow.failed).map(([k, v]) => `${v} ${k}`).join(', ');
      console.log(`   ${n} listeners: ${grow.open} open after ${fmt(grow.joinS)} s; first media after p50 ${fmt(grow.firstMediaP50Ms, 0)} ms, p99 ${fmt(grow.firstMediaP99Ms, 0)} ms${failed ? `; failed: ${failed}` : ''}`);
      await sleep(settleS * 1000);
      await harness.mark();
      const p0 = procStat(sut.pid);
      const h0 = procStat(harness.child.pid!);
      const rssMb = await medianRssOver(sut.pid, windowS);
      const window = await harness.report();
      const p1 = procStat(sut.pid);
      const h1 = procStat(harness.child.pid!);
      const cpuS = p1.cpuS - p0.cpuS;
      const listenerS = Math.max(1, window.open) * window.windowS;
      const harnessCores = (h1.cpuS - h0.cpuS) / window.windowS;
      const notes: string[] = [];
      if (window.open < n) notes.push(`${n - window.open} not listening`);
      if (window.fullRate < window.open) notes.push(`${window.open - window.fullRate} below full rate`);
      if (window.closedInWindow > 0) notes.push(`closed in the window: ${Object.entries(window.closeReasons).map(([k, v]) => `${v} ${k}`).join(', ')}`);
      const harnessSaturated = plan.load !== null && harnessCores > HARNESS_SATURATED_CORES;
      if (harnessSaturated) notes.push(`harness saturated (${harnessCores.toFixed(2)} cores): the clients, not the server, may limit delivery and lag`);
      const cpuPerS = cpuS / window.windowS;
      const added = previous === null ? 0 : n - previous.n;
      rows.push({
        server,
        label: sut.label,
        cadenceMs,
        listeners: n,
        grow,
        window,
        serverCores: cpuPerS,
        usPerListenerS: (cpuS / listenerS) * 1e6,
        usPerListenerSNet: ((cpuS - idleCores * window.windowS) / listenerS) * 1e6,
        usPerListenerSMarginal: previous === null ? NaN : ((cpuPerS - previous.cpuPerS) / added) * 1e6,
        rssMb,
        kbPerListener: ((rssMb - idleRssMb) * 1024) / n,
        kbPerListenerMarginal: previous === null ? NaN : ((rssMb - previous.rssMb) * 1024) / added,
        harnessCores,
        harnessSaturated,
        ok: window.open === n && window.fullRate === n,
        notes,
      });
      previous = { n, cpuPerS, rssMb };
    }
  } finally {
    await harness?.exit();
    await sut?.stop();
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
  return rows;
}

// ------------------------------------------------------------------ report

function printRows(rows: Row[]): void {
  const f = fmt;
  console.log('us/listener-s: server CPU over listeners x window; net: less the idle server (with its station); added: of the listeners added since the step before.');
  console.log('KB/listener: median RSS in the window over the idle server\'s, over N; added: as above.\n');
  console.log('server                       | listeners | full rate | kbit/s | lag p50 ms | p99 ms | max ms | spread p99 | server cores | us/listener-s |   net | added | RSS MB | KB/listener | added | harness cores | verdict');
  console.log('-----------------------------|-----------|-----------|--------|------------|--------|--------|------------|--------------|---------------|-------|-------|--------|-------------|-------|---------------|--------');
  for (const r of rows) {
    console.log(
      [
        r.label.padEnd(28),
        String(r.listeners).padStart(9),
        `${r.window.fullRate}/${r.listeners}`.padStart(9),
        f(r.window.kbpsMean).padStart(6),
        f(r.window.lagP50Ms).padStart(10),
        f(r.window.lagP99Ms).padStart(6),
        f(r.window.lagMaxMs).padStart(6),
        f(r.window.spreadP99Ms).padStart(10),
        f(r.serverCores, 3).padStart(12),
        f(r.usPerListenerS).padStart(13),
        f(r.usPerListenerSNet).padStart(5),
        f(r.usPerListenerSMarginal).padStart(5),
        f(r.rssMb).padStart(6),
        f(r.kbPerListener).padStart(11),
        f(r.kbPerListenerMarginal).padStart(5),
        f(r.harnessCores, 2).padStart(13),
        r.ok ? 'ok' : 'FAIL',
      ].join(' | '),
    );
    for (const note of r.notes) console.log(`${' '.repeat(31)}${note}`);
  }
}

function verdict(rows: Row[], pinned: boolean): void {
  console.log('\nverdict against the listening goals:');
  for (const c of cadences) {
    for (const n of steps) {
      const ice = rows.find((r) => r.server === 'icecast' && r.cadenceMs === c && r.listeners === n);
      const relay = rows.find((r) => r.server === 'relay' && r.cadenceMs === c && r.listeners === n);
      if (!ice || !relay) continue;
      const below = relay.usPerListenerS < ice.usPerListenerS;
      const caveats = [
        ...(ice.ok && relay.ok ? [] : ['not every listener at full rate: see the rows']),
        ...(ice.harnessSaturated || relay.harnessSaturated ? ['the harness saturated: not a server figure'] : []),
      ];
      console.log(
        `- ${c} ms, ${n} listeners: relay ${fmt(relay.usPerListenerS)} us per listener-second against Icecast's ${fmt(ice.usPerListenerS)} ` +
          `(${fmt(relay.usPerListenerS / ice.usPerListenerS, 2)}x): ${below ? 'below' : 'NOT below'}${caveats.length > 0 ? ` (${caveats.join('; ')})` : ''}` +
          (Number.isFinite(relay.usPerListenerSMarginal) && Number.isFinite(ice.usPerListenerSMarginal)
            ? `; of the listeners added since the step before: ${fmt(relay.usPerListenerSMarginal)} against ${fmt(ice.usPerListenerSMarginal)}`
            : '') +
          `; memory ${fmt(relay.kbPerListener)} against ${fmt(ice.kbPerListener)} KB per listener; p99 lag ${fmt(relay.window.lagP99Ms)} against ${fmt(ice.window.lagP99Ms)} ms`,
      );
    }
  }
  for (const c of cadences) {
    const relayRows = rows.filter((r) => r.server === 'relay' && r.cadenceMs === c);
    const held = relayRows.filter((r) => r.ok).reduce((m, r) => Math.max(m, r.listeners), 0);
    const tried = relayRows.reduce((m, r) => Math.max(m, r.listeners), 0);
    const what = `- ${GOAL_LISTENERS} listeners at ${c} ms`;
    if (relayRows.length === 0) console.log(`${what}: the relay was not run`);
    else if (held >= GOAL_LISTENERS) console.log(`${what}: met (${held} at full rate, ${pinned ? 'pinned' : 'unpinned'})`);
    else if (tried >= GOAL_LISTENERS) console.log(`${what}: NOT met (largest step with every listener at full rate: ${held || 'none'})`);
    else console.log(`${what}: not measured in this run (largest step ${tried}; the capacity figure needs --listeners ${GOAL_LISTENERS} --pin no)`);
  }
}

// ------------------------------------------------------------------ main

const missing = icecastTools();
if (servers.includes('icecast') && missing !== null) {
  console.log(`Icecast comparison skipped: ${missing}`);
  servers = servers.filter((s) => s !== 'icecast');
  if (servers.length === 0) process.exit(1);
}
const plan = cpuPlan(values.pin === 'no' ? 'unpinned' : 'pinned');
pinSelf(plan.load); // the harness and ffmpeg inherit this core
const nofile = hardNofile();
if (steps[steps.length - 1] + 200 > nofile) console.log(`warning: the open-file hard limit is ${nofile}; ${steps[steps.length - 1]} listeners may not all connect`);

console.log(`Tapwire listener fan-out benchmark, ${new Date().toISOString()}`);
console.log(`command: npm run bench:listeners -- ${process.argv.slice(2).join(' ')}`);
console.log(`machine: ${machine()}; checkout ${revision()}`);
console.log(`${plan.label.replace('relay', 'server')}; open files: soft limit raised to ${nofile} for every process`);
console.log(`one station, 32 kbit/s Opus 48 kHz mono; steps ${steps.join(', ')} listeners joining at ${joinRate}/s; ${settleS} s settle, ${windowS} s window per step; idle server measured ${idleSettleS} s after its start`);
if (servers.includes('icecast')) console.log(`icecast: ${icecastVersion()}, fed by ffmpeg (libopus, -re), burst-size 0`);
console.log('');

const rows: Row[] = [];
const failures: string[] = [];
for (const c of cadences) {
  for (const s of servers) {
    try {
      rows.push(...(await runServer(s, c, plan, nofile)));
    } catch (err) {
      failures.push(`${s} at ${c} ms`);
      console.log(`-- ${s} at ${c} ms failed: ${(err as Error).message}`);
    }
  }
}
console.log('');
printRows(rows);
verdict(rows, plan.load !== null);
if (failures.length > 0) console.log(`- did not run: ${failures.join(', ')} (see above)`);
process.exit(failures.length > 0 ? 1 : 0);
