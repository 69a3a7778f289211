/**
 * How many concurrent Opus 48 kHz mono stations one relay sustains through the full
 * pipeline (decode, chain, meters, spectra, buckets, WAV segments, SQLite) with no dropped
 * or late frame and a p99 per-frame latency (from the jitter buffer's release to the POST
 * meters) under 20 ms, and what each station costs the relay. The time packets wait in the
 * jitter buffer is its own column (JB: the stations' mean call_quality.jitter_buffer_delay_ms).
 *
 *   npm run bench:stations -- [--steps 100,200,300] [--seconds 20] [--warmup 4]
 *                             [--modes pinned,unpinned] [--workers N] [--profile DIR] [--idle yes|no]
 *                             [--before DIR] [--trace-gc] [--transports websocket,rtp]
 *
 * Pinned (cpu-pinning.ts): the relay, every thread of it, runs on core 1 and this process,
 * the simulated field testers, on core 0, so the relay's figures are its own: its CPU per
 * station-second set beside bench/pipeline.ts's per-station cost (measured here first),
 * the stations one relay core sustains, and the idle relay's CPU. Unpinned: both share
 * every core, as on a laptop. Each mode starts its own relay.
 *
 * `--before DIR`: DIR is another checkout of Tapwire (an earlier commit, with node_modules,
 * e.g. a `git worktree`); in each mode its relay runs first under the same load and
 * measurements, then this checkout's, so before and after come from one run.
 * `--trace-gc`: the relay runs with V8's --trace-gc, and each step prints the garbage
 * collections in its window per thread (V8 isolate: the main thread and each worker).
 * `--transports websocket,rtp`: the same steps for each transport in turn, on one relay:
 * WebSocket field testers (relay/src/sim/simulator.ts), or RTP senders over UDP
 * (bench/rtp-load.ts), one RTP session each, through the same jitter buffer stage.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RelayStatsResponse } from '../protocol/api.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { BENCHMARK_LIMITS, startRelayProcess } from '../relay/src/testing/relay-process.ts';
import { cpuPlan, pinSelf } from './cpu-pinning.ts';
import { measurePipeline } from './pipeline-cost.ts';
import { procStat } from './proc-stat.ts';
import { RtpLoad } from './rtp-load.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100,200,300' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '4' },
    modes: { type: 'string', default: 'pinned,unpinned' },
    workers: { type: 'string' },
    /** Write V8 CPU profiles of the relay's threads to this directory. */
    profile: { type: 'string' },
    /** Measure the idle relay first (a minute); `--idle no` goes straight to the steps. */
    idle: { type: 'string', default: 'yes' },
    before: { type: 'string' },
    'trace-gc': { type: 'boolean', default: false },
    transports: { type: 'string', default: 'websocket' },
  },
});
const transports = values.transports.split(',') as ('websocket' | 'rtp')[];
for (const t of transports) if (t !== 'websocket' && t !== 'rtp') throw new TypeError(`--transports takes websocket and rtp, got ${t}`);
const steps = values.steps.split(',').map(Number);
const measureS = Number(values.seconds);
const warmupS = Number(values.warmup);
const modes = values.modes.split(',') as ('pinned' | 'unpinned')[];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * The idle relay is measured once its start-up work (module loading, the garbage collections
 * and code flushing that follow it for about a minute) has settled.
 */
const IDLE_SETTLE_S = 60;
const IDLE_WINDOW_S = 30;
const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, 'opus');

/** Counts V8's --trace-gc lines per isolate (the main thread and each worker have one). */
class GcCounts {
  private readonly counts = new Map<string, { full: number; young: number }>();
  private rest = '';

  feed(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Sweep)/.exec(line);
      if (m === null) continue;
      let c = this.counts.get(m[1]);
      if (c === undefined) this.counts.set(m[1], (c = { full: 0, young: 0 }));
      if (m[2].startsWith('Mark-')) c.full++;
      else c.young++;
    }
  }

  snapshot(): Map<string, { full: number; young: number }> {
    return new Map([...this.counts].map(([k, v]) => [k, { ...v }]));
  }

  /** Per isolate: full (mark-compact) and young-generation collections since the snapshot. */
  since(before: Map<string, { full: number; young: number }>): string {
    const parts: string[] = [];
    for (const [isolate, c] of this.counts) {
      const b = before.get(isolate) ?? { full: 0, young: 0 };
      if (c.full === b.full && c.young === b.young) continue;
      parts.push(`${isolate} ${c.full - b.full} full, ${c.young - b.young} young`);
    }
    return parts.length > 0 ? parts.join('; ') : 'none';
  }
}

console.log(`Tapwire station benchmark: Opus 48 kHz mono, 20 ms frames, ${((audio.packets.reduce((n, p) => n + p.length, 0) * 8) / 10 / 1000).toFixed(1)} kbit/s`);
console.log(`warm-up ${warmupS} s, window ${measureS} s per step; ${values.workers ?? 'default'} media workers\n`);

for (const mode of modes) {
  const plan = cpuPlan(mode);
  pinSelf(plan.load);
  // The pipeline's own cost, on a core like the relay's, before any load: the yardstick.
  const pipeline = measurePipeline({ stations: 50, seconds: 10, codec: 'opus', chain: false });
  console.log(`== ${plan.label}`);
  console.log(`bench/pipeline.ts (50 stations, one thread, no I/O): ${pipeline.percentPerStation.toFixed(3)} % of a core per station (${pipeline.usPerFrame.toFixed(1)} us per frame)`);
  if (values.before) {
    console.log(`\n-- before: the relay of ${values.before} (${revision(values.before)})`);
    await runMode(plan.relay, pipeline.percentPerStation, values.before);
    console.log(`\n-- after: the relay of this checkout (${revision('.')})`);
  }
  await runMode(plan.relay, pipeline.percentPerStation);
  console.log('');
}

/** The stations' mean jitter-buffer delay, ms ('-' where no station reports one). */
function jitterBufferMs(stats: RelayStatsResponse): string {
  const delays = stats.stations.map((s) => s.call_quality?.jitter_buffer_delay_ms).filter((d): d is number => typeof d === 'number');
  return delays.length === 0 ? '-' : (delays.reduce((a, b) => a + b, 0) / delays.length).toFixed(1);
}

/** The commit a checkout is at, and whether it has changes on top. */
function revision(dir: string): string {
  try {
    const rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${rev} with changes` : rev;
  } catch {
    return 'not a git checkout';
  }
}

async function runMode(relayCpus: string | null, pipelinePercent: number, root?: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...BENCHMARK_LIMITS,
    TAPWIRE_PORT: '0',
    TAPWIRE_DATA_DIR: dataDir,
    TAPWIRE_LOG_LEVEL: 'warn',
    // Keep the disk in check: 300 stations write about 58 MB/s of segments.
    TAPWIRE_SEGMENT_MAX_MB: '1500',
    // A port pair per RTP station.
    TAPWIRE_MAX_RTP_SESSIONS: '10000',
    TAPWIRE_RTP_PORTS: '20000-39999',
  };
  if (values.workers) env.TAPWIRE_MEDIA_WORKERS = values.workers;
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  if (values['trace-gc']) nodeArgs.push('--trace-gc');
  const relayProcess = startRelayProcess({ env, nodeArgs, echoStderr: true, cpus: relayCpus, root });
  const relay = relayProcess.child;
  const gcs = new GcCounts();
  if (values['trace-gc']) relay.stdout!.on('data', (d: Buffer) => gcs.feed(d.toString()));
  const url = await relayProcess.ready;
  const wsUrl = `${url.replace('http', 'ws')}/ws/ingest`;
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const stats = async (reset = false): Promise<RelayStatsResponse> => {
    const r = await fetch(`${url}/api/relay/stats${reset ? '?reset_latency=1' : ''}`, { headers: { authorization: `Bearer ${adminToken}` } });
    return (await r.json()) as RelayStatsResponse;
  };

  // The idle relay: started, settled (the start-up's garbage collected), no station.
  let idleCores = 0;
  if (values.idle !== 'no') {
    await sleep(IDLE_SETTLE_S * 1000);
    const i0 = procStat(relay.pid!);
    await sleep(IDLE_WINDOW_S * 1000);
    const i1 = procStat(relay.pid!);
    idleCores = (i1.cpuS - i0.cpuS) / IDLE_WINDOW_S;
    console.log(`idle relay (${IDLE_WINDOW_S} s, from ${IDLE_SETTLE_S} s after start): ${(idleCores * 100).toFixed(2)} % of a core (main thread ${(((i1.mainThreadS - i0.mainThreadS) / IDLE_WINDOW_S) * 100).toFixed(2)} %), RSS ${i1.rssMb.toFixed(0)} MB`);
  } else {
    console.log('idle relay: not measured (--idle no); per-station figures count the whole relay');
  }
  /** N simulated senders of one transport, paced in real time. */
  const startLoad = async (transport: 'websocket' | 'rtp', n: number): Promise<{ pump(now: number): void; stop(): Promise<void> }> => {
    if (transport === 'rtp') {
      const rtp = await RtpLoad.open(url, adminToken, audio, n, 'bench');
      return { pump: (now) => rtp.pump(now), stop: () => rtp.close() };
    }
    const list: SimulatedStation[] = [];
    for (let i = 0; i < n; i++) list.push(new SimulatedStation({ url: wsUrl, audio, label: `bench-${i}`, durationS: 3600, offsetMs: (i * 20) / n }));
    await Promise.all(list.map((s) => s.connect()));
    return {
      pump: (now) => {
        for (const s of list) s.pump(now);
      },
      stop: async () => {
        for (const s of list) s.stop();
        await Promise.all(list.map((s) => Promise.race([s.done, sleep(5000)])));
      },
    };
  };

  for (const transport of transports) {
    console.log(`\n${transport === 'rtp' ? 'RTP over UDP (Opus, one session per station)' : 'WebSocket ingest'}`);
    console.log('stations | JB ms | p50 ms | p99 ms | max ms | frames   | dropped | late | relay CPU (cores) | main thread | per station (% core) | / pipeline | RSS MB | verdict');
    console.log('---------|-------|--------|--------|--------|----------|---------|------|-------------------|-------------|----------------------|------------|--------|--------');

    let best = 0;
    for (const n of steps) {
      const load = await startLoad(transport, n);
      let running = true;
      let maxPumpGapMs = 0;
      const pumpLoop = (async () => {
        let last = performance.now();
        while (running) {
          const now = performance.now();
          maxPumpGapMs = Math.max(maxPumpGapMs, now - last);
          last = now;
          load.pump(now);
          await sleep(4);
        }
      })();
      await sleep(warmupS * 1000);
      const before = await stats(true);
      const p0 = procStat(relay.pid!);
      const l0 = procStat(process.pid);
      const gc0 = gcs.snapshot();
      maxPumpGapMs = 0;
      await sleep(measureS * 1000);
      const after = await stats(true);
      const p1 = procStat(relay.pid!);
      const l1 = procStat(process.pid);
      const loadNote = `load: ${((l1.cpuS - l0.cpuS) / measureS).toFixed(2)} cores, longest gap between sends ${maxPumpGapMs.toFixed(0)} ms`;
      const gcNote = values['trace-gc'] ? gcs.since(gc0) : '';
      running = false;
      await pumpLoop;
      await load.stop();

      const dropped = after.relay.frames_dropped - before.relay.frames_dropped;
      const late = after.relay.late_frames - before.relay.late_frames + after.relay.resyncs - before.relay.resyncs;
      const frames = after.relay.frames_received - before.relay.frames_received;
      const cores = (p1.cpuS - p0.cpuS) / measureS;
      const mainCores = (p1.mainThreadS - p0.mainThreadS) / measureS;
      const perStation = ((cores - idleCores) / n) * 100;
      const lat = after.pipeline_latency_ms;
      // A saturated worker can fall so far behind that its stats (latency, drops) never arrive in
      // the window: no measured frame is a failure, never a pass.
      const measured = lat.frames >= frames * 0.9;
      const ok = measured && dropped === 0 && late === 0 && lat.p99 < 20 && frames >= n * 50 * measureS * 0.98;
      if (ok) best = Math.max(best, n);
      console.log(
        [
          String(n).padStart(8),
          jitterBufferMs(after).padStart(5),
          lat.p50.toFixed(1).padStart(6),
          lat.p99.toFixed(1).padStart(6),
          lat.max.toFixed(1).padStart(6),
          String(frames).padStart(8),
          String(dropped).padStart(7),
          String(late).padStart(4),
          cores.toFixed(2).padStart(17),
          mainCores.toFixed(2).padStart(11),
          perStation.toFixed(3).padStart(20),
          `${(perStation / pipelinePercent).toFixed(2)}x`.padStart(10),
          p1.rssMb.toFixed(0).padStart(6),
          ok ? 'ok' : 'FAIL',
        ].join(' | ') + `   (${measured ? '' : `latency measured for only ${lat.frames} frames; `}${loadNote})`,
      );
      if (gcNote) console.log(`         garbage collections in the window, per V8 isolate: ${gcNote}`);
      await sleep(7000); // let the last buckets finalize and be written
    }
    console.log(`largest sustained over ${transport}: ${best} stations (no dropped or late frame, p99 < 20 ms, every frame sent received)`);
  }
  relay.kill('SIGTERM');
  await new Promise((r) => relay.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
