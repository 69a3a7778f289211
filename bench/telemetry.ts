/**
 * Live meter telemetry under load: 100 live Opus 48 kHz stations and 500
 * `/ws/telemetry` clients, 100 of which never read.
 *
 *   node --import tsx bench/telemetry.ts [--stations 100] [--clients 500] [--slow 100]
 *     [--window 20] [--rss-seconds 60] [--backed-up-bytes N] [--backed-up-ms N] [--pin yes|no]
 *
 * Three processes, as in production plus two load generators: the relay; this process,
 * which streams the stations (as bench/stations.ts) and measures; and a child process
 * (this file with `--role clients`) that holds the telemetry clients, so that their JSON
 * handling does not delay the stations' pacing. Pinned (the default, cpu-pinning.ts): the
 * relay, every thread, on core 1, and both load generators on core 0, so the relay's
 * figures are its own; `--pin no` lets all three share the machine's cores.
 *
 * Figures (same run, same station load):
 * - per-frame pipeline p99 latency without telemetry clients, with them (three windows),
 *   and without them again (goal: with within 10% of without);
 * - relay RSS every 5 s over 60 s with the clients attached (goal: flat), and its slope;
 * - delivery rate (messages/s per healthy client, goal 20) and p99 delivery latency, from
 *   the measurement's `ts` to its receipt (goal < 50 ms; `ts` has 1 ms resolution);
 * - slow clients closed (GET /metrics), telemetry messages dropped.
 * Every wait is bounded; a watchdog stops everything after 5 minutes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { RelayStatsResponse } from '../protocol/api.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { LatencyHistogram } from '../relay/src/media/latency-histogram.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { BENCHMARK_LIMITS, startRelayProcess } from '../relay/src/testing/relay-process.ts';
import { cpuPlan, pinSelf } from './cpu-pinning.ts';
import { procStat } from './proc-stat.ts';
import { slope } from './slope.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    url: { type: 'string' },
    stations: { type: 'string', default: '100' },
    clients: { type: 'string', default: '500' },
    slow: { type: 'string', default: '100' },
    window: { type: 'string', default: '20' },
    'rss-seconds': { type: 'string', default: '60' },
    'backed-up-bytes': { type: 'string' },
    'backed-up-ms': { type: 'string' },
    pin: { type: 'string', default: 'yes' },
  },
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowMs = (): number => performance.timeOrigin + performance.now();

/** What the clients process reports for one window. */
interface ClientsReport {
  readers: number;
  readersOpen: number;
  slowConnected: number;
  windowS: number;
  /** Messages received in the window, per reader. */
  counts: number[];
  /** Sequence numbers skipped (dropped by the relay) in the window, all readers. */
  gaps: number;
  latencyBins: number[];
  latencyCount: number;
  latencyMaxMs: number;
}
type ToClients = { cmd: 'mark' } | { cmd: 'report' } | { cmd: 'exit' };
type FromClients = { type: 'ready'; readersOpen: number; slowConnected: number } | { type: 'report'; report: ClientsReport };

// ---------------------------------------------------------------- the clients process

async function runClients(url: string, readers: number, slow: number): Promise<void> {
  const send = (m: FromClients): void => void process.send!(m);
  process.on('disconnect', () => process.exit(0)); // the parent went away: stop
  const wsUrl = `${url.replace('http', 'ws')}/ws/telemetry`;
  const latency = new LatencyHistogram();
  const counts = new Array<number>(readers).fill(0);
  const lastSeq = new Array<number>(readers).fill(0);
  let gaps = 0;
  let markMs = nowMs();
  const sockets: WebSocket[] = [];
  const raw: net.Socket[] = [];
  const HEAD = /"ts":"([^"]+)","seq":(\d+)/;

  const openReader = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false, skipUTF8Validation: true });
      sockets.push(ws);
      ws.on('message', (data: Buffer) => {
        const at = nowMs();
        // Only the envelope's head is read: ts and seq come before `data`.
        const m = HEAD.exec(data.toString('latin1', 0, 96));
        if (m === null) return;
        const seq = Number(m[2]);
        if (lastSeq[i] > 0 && seq > lastSeq[i] + 1) gaps += seq - lastSeq[i] - 1;
        lastSeq[i] = seq;
        counts[i]++;
        latency.record(at - Date.parse(m[1]));
      });
      ws.once('open', () => resolve());
      ws.once('error', () => resolve());
    });

  /** Upgrades by hand, then never reads again. */
  const openNonReader = (): Promise<void> =>
    new Promise((resolve) => {
      const u = new URL(url);
      const s = net.connect(Number(u.port), u.hostname);
      raw.push(s);
      s.on('error', () => undefined);
      s.once('connect', () =>
        s.write(
          `GET /ws/telemetry HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      s.once('data', () => {
        s.pause();
        resolve();
      });
      setTimeout(resolve, 5000).unref();
    });

  for (let i = 0; i < readers; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, readers - i) }, (_, k) => openReader(i + k)));
  }
  for (let i = 0; i < slow; i += 50) await Promise.all(Array.from({ length: Math.min(50, slow - i) }, openNonReader));
  send({ type: 'ready', readersOpen: sockets.filter((w) => w.readyState === WebSocket.OPEN).length, slowConnected: raw.filter((s) => !s.destroyed).length });

  process.on('message', (msg: ToClients) => {
    if (msg.cmd === 'mark') {
      counts.fill(0);
      gaps = 0;
      latency.reset();
      markMs = nowMs();
    } else if (msg.cmd === 'report') {
      send({
        type: 'report',
        report: {
          readers,
          readersOpen: sockets.filter((w) => w.readyState === WebSocket.OPEN).length,
          slowConnected: raw.filter((s) => !s.destroyed).length,
          windowS: (nowMs() - markMs) / 1000,
          counts: counts.slice(),
          gaps,
          latencyBins: Array.from(latency.bins),
          latencyCount: latency.count,
          latencyMaxMs: latency.maxMs,
        },
      });
    } else if (msg.cmd === 'exit') {
      for (const w of sockets) w.terminate();
      for (const s of raw) s.destroy();
      setTimeout(() => process.exit(0), 200);
    }
  });
}

// ---------------------------------------------------------------- the measuring process

async function runMain(): Promise<void> {
  const nStations = Number(values.stations);
  const nClients = Number(values.clients);
  const nSlow = Number(values.slow);
  const windowS = Number(values.window);
  const rssS = Number(values['rss-seconds']);
  const root = fileURLToPath(new URL('../', import.meta.url));
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...BENCHMARK_LIMITS, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_SEGMENT_MAX_MB: '1500' };
  if (values['backed-up-bytes']) env.TAPWIRE_TELEMETRY_BACKED_UP_BYTES = values['backed-up-bytes'];
  if (values['backed-up-ms']) env.TAPWIRE_TELEMETRY_BACKED_UP_MS = values['backed-up-ms'];

  // The clients process, forked later, inherits this process's core.
  const plan = cpuPlan(values.pin === 'no' ? 'unpinned' : 'pinned');
  pinSelf(plan.load);
  const relayProcess = startRelayProcess({ env, echoStderr: true, cpus: plan.relay });
  const relay = relayProcess.child;
  let clients: ChildProcess | null = null;
  const cleanup = (): void => {
    clients?.kill('SIGKILL');
    relay.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.error('bench: watchdog fired after 5 minutes; stopping');
    cleanup();
    process.exit(2);
  }, 300_000);
  watchdog.unref();

  try {
    const url = await relayProcess.ready;
    const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const stats = async (): Promise<RelayStatsResponse> => {
      const r = await fetch(`${url}/api/relay/stats?reset_latency=1`, { headers: { authorization: `Bearer ${adminToken}` } });
      return (await r.json()) as RelayStatsResponse;
    };
    const metric = async (name: string): Promise<string> => {
      const r = await fetch(`${url}/metrics`);
      if (!r.ok) return 'n/a';
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await r.text());
      return m ? m[1] : 'n/a';
    };

    const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, 'opus');
    const stations: SimulatedStation[] = [];
    for (let i = 0; i < nStations; i++) {
      stations.push(new SimulatedStation({ url: `${url.replace('http', 'ws')}/ws/ingest`, audio, label: `bench-${i}`, durationS: 3600, offsetMs: (i * 20) / nStations }));
    }
    await Promise.all(stations.map((s) => s.connect()));
    let pumping = true;
    const pumpLoop = (async () => {
      while (pumping) {
        const now = performance.now();
        for (const s of stations) s.pump(now);
        await sleep(4);
      }
    })();

    console.log(`Tapwire telemetry benchmark: ${nStations} Opus 48 kHz stations, ${nClients} /ws/telemetry clients (${nSlow} never read)`);
    console.log(`${plan.label}`);
    console.log(`relay pid ${relay.pid}; stations in the bench process, clients in a child process; slow-client policy: ${env.TAPWIRE_TELEMETRY_BACKED_UP_BYTES ?? 'default'} bytes for ${env.TAPWIRE_TELEMETRY_BACKED_UP_MS ?? 'default'} ms\n`);

    /** One window of `seconds`: the relay's per-frame latency, frames dropped or late, CPU of each process. */
    const windowRows: string[] = [];
    const p99s: Record<string, number> = {};
    const measureWindow = async (label: string, seconds: number): Promise<void> => {
      const before = await stats();
      const p0 = procStat(relay.pid!);
      const c0 = clients?.pid === undefined ? null : procStat(clients.pid);
      const b0 = process.cpuUsage();
      const t0 = performance.now();
      const wait = t0 + seconds * 1000 - performance.now();
      if (wait > 0) await sleep(wait);
      const after = await stats();
      const p1 = procStat(relay.pid!);
      const c1 = clients?.pid === undefined ? null : procStat(clients.pid);
      const b1 = process.cpuUsage(b0);
      const lat = after.pipeline_latency_ms;
      const dropped = after.relay.frames_dropped - before.relay.frames_dropped;
      const late = after.relay.late_frames - before.relay.late_frames + after.relay.resyncs - before.relay.resyncs;
      p99s[label] = lat.p99;
      windowRows.push(
        [label.padEnd(32), lat.p50.toFixed(1).padStart(6), lat.p99.toFixed(1).padStart(6), lat.max.toFixed(1).padStart(6), String(lat.frames).padStart(7), String(dropped).padStart(7), String(late).padStart(4), ((p1.cpuS - p0.cpuS) / seconds).toFixed(2).padStart(5),
          ((b1.user + b1.system) / 1e6 / seconds).toFixed(2).padStart(7),
          (c0 && c1 ? ((c1.cpuS - c0.cpuS) / seconds).toFixed(2) : '-').padStart(7)].join(' | '),
      );
    };

    await sleep(8000); // warm-up: JIT, decoder state, first buckets
    await stats();
    await measureWindow('without clients (before)', windowS);

    clients = fork(fileURLToPath(import.meta.url), ['--role', 'clients', '--url', url, '--clients', String(nClients), '--slow', String(nSlow)], {
      execArgv: ['--import', 'tsx'],
      cwd: root,
    });
    const fromClients = (type: FromClients['type'], timeoutMs: number): Promise<FromClients> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`clients process: no ${type} within ${timeoutMs} ms`)), timeoutMs);
        const on = (m: FromClients): void => {
          if (m.type !== type) return;
          clearTimeout(timer);
          clients!.off('message', on);
          resolve(m);
        };
        clients!.on('message', on);
      });
    const ready = (await fromClients('ready', 60_000)) as Extract<FromClients, { type: 'ready' }>;
    console.log(`clients connected: ${ready.readersOpen}/${nClients - nSlow} readers, ${ready.slowConnected}/${nSlow} non-readers; relay reports ${await metric('tapwire_telemetry_clients')} telemetry clients`);
    await sleep(3000); // warm-up with clients
    await stats();

    // 60 s with clients: RSS every 5 s; the pipeline latency in windows of the same length as before.
    const rss: { s: number; mb: number }[] = [];
    clients.send({ cmd: 'mark' } satisfies ToClients);
    const sent0 = Number(await metric('tapwire_telemetry_messages_sent_total'));
    const dropped0 = Number(await metric('tapwire_telemetry_messages_dropped_total'));
    const rssStart = performance.now();
    const sampleRss = async (): Promise<void> => {
      for (let i = 0; i * 5 <= rssS; i++) {
        const wait = rssStart + i * 5000 - performance.now();
        if (wait > 0) await sleep(wait);
        rss.push({ s: i * 5, mb: procStat(relay.pid!).rssMb });
      }
    };
    const rssDone = sampleRss();
    const nWindows = Math.max(1, Math.floor(rssS / windowS));
    for (let w = 0; w < nWindows; w++) await measureWindow(`with ${nClients} clients (${w + 1}/${nWindows})`, windowS);
    await rssDone;
    clients.send({ cmd: 'report' } satisfies ToClients);
    const report = ((await fromClients('report', 10_000)) as Extract<FromClients, { type: 'report' }>).report;
    const telemetryClients = await metric('tapwire_telemetry_clients');
    const slowClosed = await metric('tapwire_telemetry_slow_clients_closed_total');
    const sent = Number(await metric('tapwire_telemetry_messages_sent_total')) - sent0;
    const dropped = Number(await metric('tapwire_telemetry_messages_dropped_total')) - dropped0;

    clients.send({ cmd: 'exit' } satisfies ToClients);
    await new Promise((r) => {
      clients!.once('exit', r);
      setTimeout(r, 5000).unref();
    });
    clients = null;
    await sleep(3000);
    await stats();
    await measureWindow('without clients (after)', windowS);

    pumping = false;
    await pumpLoop;
    for (const s of stations) s.stop();
    await Promise.all(stations.map((s) => Promise.race([s.done, sleep(5000)])));

    // ---- report
    console.log('\nper-frame pipeline latency (arrival to POST meters), same station load:');
    console.log('window                           | p50 ms | p99 ms | max ms | frames  | dropped | late | CPU cores: relay | stations | clients');
    console.log('---------------------------------|--------|--------|--------|---------|---------|------|-------|---------|--------');
    for (const row of windowRows) console.log(row);
    const base = p99s['without clients (before)'];
    const withP99 = Math.max(...Object.entries(p99s).filter(([k]) => k.startsWith('with ')).map(([, v]) => v));
    const change = ((withP99 - base) / base) * 100;
    console.log(`worst p99 with clients ${withP99.toFixed(1)} ms vs ${base.toFixed(1)} ms without: ${change >= 0 ? '+' : ''}${change.toFixed(1)}% (goal: at most +10%) ${change <= 10 ? 'ok' : 'MISSED'}`);

    console.log(`\nrelay RSS with clients attached, every 5 s over ${rssS} s (MB):`);
    console.log(rss.map((r) => `${r.s}s ${r.mb.toFixed(1)}`).join(', '));
    const mbPerMin = slope(rss.map((r) => r.s / 60), rss.map((r) => r.mb));
    const half = Math.floor(rss.length / 2);
    const late = slope(rss.slice(half).map((r) => r.s / 60), rss.slice(half).map((r) => r.mb));
    console.log(`slope ${mbPerMin.toFixed(2)} MB/min over the whole series, ${late.toFixed(2)} MB/min over its second half; min ${Math.min(...rss.map((r) => r.mb)).toFixed(1)}, max ${Math.max(...rss.map((r) => r.mb)).toFixed(1)}`);

    const healthy = report.counts.filter((c) => c > 0);
    const rates = healthy.map((c) => c / report.windowS).sort((a, b) => a - b);
    const mean = rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length);
    const hist = new LatencyHistogram();
    hist.merge(Uint32Array.from(report.latencyBins), report.latencyCount, report.latencyMaxMs);
    console.log(`\nhealthy clients: ${report.readersOpen}/${report.readers} open, ${healthy.length} received in the ${report.windowS.toFixed(1)} s window`);
    console.log(`delivery rate per client: mean ${mean.toFixed(2)} /s, min ${(rates[0] ?? 0).toFixed(2)}, max ${(rates[rates.length - 1] ?? 0).toFixed(2)} (goal 20); sequence numbers skipped: ${report.gaps}`);
    console.log(`delivery latency (ts to receipt): p50 ${hist.quantile(0.5).toFixed(1)} ms, p99 ${hist.quantile(0.99).toFixed(1)} ms, max ${hist.maxMs.toFixed(1)} ms over ${hist.count} messages (goal p99 < 50 ms)`);
    console.log(`\nnon-reading clients: ${nSlow}; closed by the relay (tapwire_telemetry_slow_clients_closed_total): ${slowClosed}; their sockets still open client-side at the end: ${report.slowConnected}`);
    console.log(`relay telemetry clients at the end of the window: ${telemetryClients}; messages sent in the window ${sent}, dropped ${dropped}`);
  } finally {
    clearTimeout(watchdog);
    clients?.kill('SIGKILL');
    relay.kill('SIGTERM');
    await new Promise((r) => {
      relay.once('exit', r);
      setTimeout(r, 15_000).unref();
    });
    relay.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (values.role === 'clients') {
  const total = Number(values.clients);
  const slow = Number(values.slow);
  await runClients(values.url as string, total - slow, slow);
} else {
  await runMain();
}
