/**
 * The monitor page at scale, measured where it runs: 50 live stations, their meters
 * published at 20 Hz, on /monitor in Debian's headless Chromium, for `--minutes` (10).
 *
 *   node --import tsx bench/monitor-chromium.ts [--stations 50] [--minutes 10] [--sample 30]
 *     [--warmup 60] [--pin yes|no] [--viewport 1280x720] [--profile page.cpuprofile]
 *
 * The relay runs in its own process with `TAPWIRE_TELEMETRY_HZ=20`; this process streams the
 * stations (PCM16 at 16 kHz, cheap to ingest and to keep: tone mosaics of random pitch and
 * level, ten different ones, so every meter moves). The segment budget is set above what a
 * run writes (3.2 MB/s for 50 stations), so retention never sweeps during one. Pinned (the default, cpu-pinning.ts): the relay,
 * every thread, and this process on core 1; Chromium, every process, on core 0, so the
 * page's frames are Chromium's own work.
 *
 * Measured in the page, per `--sample` window:
 * - frame intervals between requestAnimationFrame callbacks: p50/p95/p99/max, the share over
 *   16.7 ms (a frame missed at 60 Hz) and over 33.3 ms (two), effective fps;
 * - long tasks (PerformanceObserver 'longtask': main-thread tasks over 50 ms);
 * - what the page receives: measurement `seq` advances and messages per second on
 *   /ws/telemetry, and stations per measurement (goal: 20 and 50);
 * - the meters move: how many of the page's RMS readouts changed since the last window;
 * and from outside it: the JS heap (CDP Performance.getMetrics, used size as it is and
 * after a forced collection, which is what grows if something leaks), DOM nodes, layouts
 * and style recalculations per second, the renderer process's RSS and CPU and the other
 * Chromium processes' CPU.
 *
 * The page is `--viewport` CSS pixels (Playwright's default, 1280x720: three stations in view;
 * the rest are laid out but scrolled away, as on a laptop; 1920x1080 shows four). A tall
 * viewport such as 1280x8000 puts 38 in view: a worst case no screen shows.
 *
 * Before the monitor, the same frame measurement on an idle page says at which rate
 * headless Chromium runs requestAnimationFrame here.
 *
 * `--profile FILE` records a V8 CPU profile of the page over the first window (written to
 * FILE, for DevTools) and prints the functions with the most self time.
 *
 * Verdict: holds 60 fps when the effective rate is within 5 % of the display's (the idle
 * page's typical rAF interval) and under 1 % of frames take over 33.3 ms; memory is flat
 * when, after the warm-up, the collected heap grows less than 0.1 MB a minute and the
 * renderer's RSS less than 1 MB a minute.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CDPSession, Page } from 'playwright-core';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { BENCHMARK_LIMITS, startRelayProcess } from '../relay/src/testing/relay-process.ts';
import { toneMosaic } from '../e2e/support/audio.ts';
import { launchChromium, type Browser } from '../e2e/support/chromium.ts';
import { cpuPlan, pinSelf } from './cpu-pinning.ts';
import { procStat } from './proc-stat.ts';
import { slope } from './slope.ts';

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '50' },
    minutes: { type: 'string', default: '10' },
    sample: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '60' },
    pin: { type: 'string', default: 'yes' },
    profile: { type: 'string' },
    viewport: { type: 'string', default: '1280x720' },
  },
});
const N_STATIONS = Number(values.stations);
const MINUTES = Number(values.minutes);
const SAMPLE_S = Number(values.sample);
const WARMUP_S = Number(values.warmup);
const TELEMETRY_HZ = 20;
const FRAME_60_MS = 1000 / 60;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ in the page

/**
 * Installed before the app's scripts: counts what /ws/telemetry brings (seq advances, messages,
 * stations per measurement, read once a second so the probe costs nothing measurable), and
 * long tasks. The frame probe is started later (startFrameProbe).
 */
const PAGE_PROBE = `(() => {
  const probe = { seqAdvances: 0, messages: 0, lastSeq: -1, stations: 0, sampledAt: 0, longTasks: 0, longTaskMs: 0 };
  globalThis.__monitorProbe = probe;
  const Native = WebSocket;
  globalThis.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (!String(args[0]).includes('/ws/telemetry')) return;
      this.addEventListener('message', (e) => {
        if (typeof e.data !== 'string') return;
        const m = /"seq":(\\d+)/.exec(e.data.slice(0, 160));
        if (m === null || !e.data.startsWith('{"type":"measurement"')) return;
        probe.messages++;
        const seq = Number(m[1]);
        if (probe.lastSeq >= 0 && seq > probe.lastSeq) probe.seqAdvances += seq - probe.lastSeq;
        probe.lastSeq = seq;
        const now = performance.now();
        if (now - probe.sampledAt >= 1000) {
          probe.sampledAt = now;
          probe.stations = Object.keys(JSON.parse(e.data).data.stations).length;
        }
      });
    }
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { probe.longTasks++; probe.longTaskMs += e.duration; }
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
})();`;

/** Starts recording rAF intervals into a preallocated buffer (no allocation per frame). */
async function startFrameProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as { __frames: { buf: Float64Array; n: number; last: number } };
    g.__frames = { buf: new Float64Array(1 << 16), n: 0, last: -1 };
    const f = g.__frames;
    const tick = (now: number): void => {
      if (f.last >= 0 && f.n < f.buf.length) f.buf[f.n++] = now - f.last;
      f.last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

interface PageSample {
  intervals: number[];
  seqAdvances: number;
  messages: number;
  stations: number;
  longTasks: number;
  longTaskMs: number;
  /** RMS readouts (data-value) of every tap, in page order. */
  rms: string[];
}

/** What the page recorded since the last take, and resets its counters. */
function takeSample(page: Page): Promise<PageSample> {
  return page.evaluate(() => {
    const g = globalThis as unknown as {
      __frames: { buf: Float64Array; n: number };
      __monitorProbe: { seqAdvances: number; messages: number; stations: number; longTasks: number; longTaskMs: number };
    };
    const intervals = Array.from(g.__frames.buf.subarray(0, g.__frames.n));
    g.__frames.n = 0;
    const p = g.__monitorProbe;
    const out = { intervals, seqAdvances: p.seqAdvances, messages: p.messages, stations: p.stations, longTasks: p.longTasks, longTaskMs: p.longTaskMs };
    p.seqAdvances = p.messages = p.longTasks = p.longTaskMs = 0;
    const rms = [...document.querySelectorAll<HTMLElement>('[data-testid="rms"]')].map((e) => e.dataset.value ?? '');
    return { ...out, rms };
  });
}

/** The RMS readouts (data-value) of every tap, in page order. */
function readRms(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="rms"]')].map((e) => e.dataset.value ?? ''));
}

// ------------------------------------------------------------------ Chromium's processes

interface ChromiumProcess {
  pid: number;
  type: string;
}

/** Chromium's processes: this process's descendants started from /usr/bin/chromium's binary, by --type. */
function chromiumProcesses(): ChromiumProcess[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]));
    } catch {
      // Gone between the listing and the read.
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 20; p = parent.get(p), hops++) if (p === process.pid) return true;
    return false;
  };
  const out: ChromiumProcess[] = [];
  for (const pid of parent.keys()) {
    if (!isOurs(pid)) continue;
    try {
      // Chromium rewrites its child processes' titles into one space-separated string.
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      if (!cmd[0].includes('chromium')) continue;
      const type = cmd.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
      out.push({ pid, type: type === 'utility' ? `utility:${cmd.find((a) => a.startsWith('--utility-sub-type='))?.split('.').pop() ?? '?'}` : type });
    } catch {
      // Gone.
    }
  }
  return out;
}

function cpusAllowed(pid: number): string {
  return /Cpus_allowed_list:\s+(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
}

/** CPU seconds and RSS of every Chromium process; the renderer is the page's (the one that worked most). */
function chromiumStats(): { byType: Map<string, number>; renderer: { pid: number; cpuS: number; rssMb: number } | null } {
  const byType = new Map<string, number>();
  let renderer: { pid: number; cpuS: number; rssMb: number } | null = null;
  for (const p of chromiumProcesses()) {
    try {
      const s = procStat(p.pid);
      byType.set(p.type, (byType.get(p.type) ?? 0) + s.cpuS);
      if (p.type === 'renderer' && (renderer === null || s.cpuS > renderer.cpuS)) renderer = { pid: p.pid, cpuS: s.cpuS, rssMb: s.rssMb };
    } catch {
      // Gone.
    }
  }
  return { byType, renderer };
}

// ------------------------------------------------------------------ statistics

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface FrameStats {
  frames: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  over16: number;
  over33: number;
  fps: number;
}

function frameStats(intervals: number[]): FrameStats {
  const s = [...intervals].sort((a, b) => a - b);
  const total = s.reduce((a, b) => a + b, 0);
  // A frame "over 16.7 ms" missed a vsync: allow for timer jitter of a millisecond.
  return {
    frames: s.length,
    p50: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s.length ? s[s.length - 1] : NaN,
    over16: s.filter((x) => x > FRAME_60_MS + 1).length / Math.max(1, s.length),
    over33: s.filter((x) => x > 2 * FRAME_60_MS + 1).length / Math.max(1, s.length),
    fps: total > 0 ? (s.length * 1000) / total : 0,
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Stops the page's CPU profile, writes it to `path`, and prints the top functions by self time. */
async function writeProfile(cdp: CDPSession, path: string): Promise<void> {
  const { profile } = (await cdp.send('Profiler.stop')) as { profile: { nodes: ProfileNode[]; samples: number[] } };
  writeFileSync(path, JSON.stringify(profile));
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  const total = profile.samples.length;
  console.log(`\nCPU profile of the first window written to ${path}; self time, top 15 of ${total} samples:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
  console.log('');
}

async function cdpMetrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

// ------------------------------------------------------------------ the run

const plan = cpuPlan(values.pin === 'no' ? 'unpinned' : 'pinned');
ensureAppBuilt();
// Chromium first, from this process on the page's core: its processes (and the zygote that
// forks renderers later) inherit the affinity; then this process moves to the relay's core.
pinSelf(plan.load);
const browser: Browser = await launchChromium();
pinSelf(plan.relay);

const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...BENCHMARK_LIMITS,
  TAPWIRE_PORT: '0',
  TAPWIRE_DATA_DIR: dataDir,
  TAPWIRE_APP_DIR: BUILD_DIR,
  TAPWIRE_LOG_LEVEL: 'warn',
  TAPWIRE_TELEMETRY_HZ: String(TELEMETRY_HZ),
  TAPWIRE_SEGMENT_MAX_MB: String(Math.ceil(N_STATIONS * 2 * 32_000 * (MINUTES + 5) * 60 / 2 ** 20) + 100),
};
const relayProcess = startRelayProcess({ env, echoStderr: true, cpus: plan.relay });
const relay = relayProcess.child;
let stations: SimulatedStation[] = [];
let pumping = false;
const cleanup = async (): Promise<void> => {
  pumping = false;
  for (const s of stations) s.stop();
  await browser.close();
  relay.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
};
const watchdog = setTimeout(
  () => {
    console.error(`bench: watchdog fired after ${MINUTES + 5} minutes; stopping`);
    void cleanup().finally(() => process.exit(2));
  },
  (MINUTES + 5) * 60_000,
);
watchdog.unref();

try {
  const url = await relayProcess.ready;
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const { page, context } = browser;
  const [vw, vh] = (values.viewport as string).split('x').map(Number);
  await page.setViewportSize({ width: vw, height: vh });
  const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/(\S+)/)?.[1] ?? navigator.userAgent);

  // The rate headless Chromium gives requestAnimationFrame here, on an idle page.
  await page.goto(`${url}/`);
  await startFrameProbe(page);
  await sleep(5000);
  const idle = frameStats((await page.evaluate(() => {
    const f = (globalThis as unknown as { __frames: { buf: Float64Array; n: number } }).__frames;
    return Array.from(f.buf.subarray(0, f.n));
  })));

  // The stations: ten different tone mosaics, PCM16 16 kHz (every third sample of the
  // 48 kHz mosaic: its tones are under 2 kHz), spread over a frame period.
  const clips = Array.from({ length: 10 }, (_, i) => encodeAudio(toneMosaic(10, 100 + i).filter((_, k) => k % 3 === 0), 16000, 'pcm16'));
  stations = Array.from(
    { length: N_STATIONS },
    (_, i) => new SimulatedStation({ url: `${url.replace('http', 'ws')}/ws/ingest`, audio: clips[i % clips.length], label: `bench-${i}`, durationS: (MINUTES + 5) * 60, offsetMs: (i * 20) / N_STATIONS }),
  );
  await Promise.all(stations.map((s) => s.connect()));
  pumping = true;
  const pumpLoop = (async () => {
    while (pumping) {
      const now = performance.now();
      for (const s of stations) s.pump(now);
      await sleep(4);
    }
  })();

  await context.addInitScript({ content: PAGE_PROBE });
  await page.goto(`${url}/?token=${adminToken}`);
  await page.getByTestId('session').getByText('signed in').waitFor();
  await page.goto(`${url}/monitor`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="station"]').length >= n, N_STATIONS, { timeout: 60_000 });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.enable');
  await startFrameProbe(page);

  // The display rate headless Chromium offers: the typical interval, which a busy machine's dropped frames do not move.
  const displayHz = 1000 / idle.p50;
  const procs = chromiumProcesses();
  console.log(`Tapwire monitor benchmark: ${N_STATIONS} live PCM16 16 kHz stations, telemetry at ${TELEMETRY_HZ} Hz, /monitor in headless Chromium ${version}`);
  const inView = await page.evaluate(() => [...document.querySelectorAll('[data-testid="station"]')].filter((e) => e.getBoundingClientRect().top < innerHeight).length);
  console.log(`viewport ${vw}x${vh}: ${inView} of ${N_STATIONS} stations in view`);
  console.log(`${plan.label}; Chromium's ${procs.length} processes on cores ${[...new Set(procs.map((p) => cpusAllowed(p.pid)))].join(', ')}; this process (stations) on ${cpusAllowed(process.pid)}`);
  console.log(
    `idle page: requestAnimationFrame every ${idle.p50.toFixed(2)} ms (p50) = ${displayHz.toFixed(1)} Hz; ${idle.frames} frames in 5 s (${idle.fps.toFixed(1)} fps)`,
  );
  console.log(`${MINUTES} min, a sample every ${SAMPLE_S} s, memory slope after ${WARMUP_S} s of warm-up\n`);
  const head = [
    't s', 'fps', 'p50 ms', 'p95', 'p99', 'max', '>16.7', '>33.3', 'long tasks', 'seq/s', 'msg/s', 'stations', 'moving (300 ms)',
    'main thread busy', 'script', 'layout', 'style', 'layouts/s',
    'heap MB', 'after GC', 'nodes', 'renderer MB', 'renderer CPU', 'gpu CPU', 'relay CPU',
  ];
  console.log(head.join(' | '));
  console.log(head.map(() => '---').join(' | '));

  interface Row { tS: number; heapMb: number; gcHeapMb: number; rssMb: number }
  const rows: Row[] = [];
  const all: number[] = [];
  const busy: number[] = [];
  let longTasks = 0;
  let longTaskMs = 0;
  let seqRates: number[] = [];
  let stationsSeen = Infinity;
  await takeSample(page);
  let prev = { m: await cdpMetrics(cdp), c: chromiumStats(), relay: procStat(relay.pid!), at: performance.now() };
  const t0 = performance.now();
  if (values.profile !== undefined) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  for (let k = 1; k * SAMPLE_S <= MINUTES * 60; k++) {
    const wait = t0 + k * SAMPLE_S * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const s = await takeSample(page);
    const m = await cdpMetrics(cdp);
    const c = chromiumStats();
    const r = procStat(relay.pid!);
    const at = performance.now();
    const dt = (at - prev.at) / 1000;
    // Retained memory: the heap after a full collection (once a window; it costs a few ms).
    await cdp.send('HeapProfiler.collectGarbage');
    const gcHeapMb = (await cdpMetrics(cdp)).JSHeapUsedSize / 2 ** 20;
    const f = frameStats(s.intervals);
    const tS = Math.round((at - t0) / 1000);
    // Readouts that change within 300 ms: compared across the 30 s between samples, the
    // stations' 10 s loops would bring the same audio, and the same readouts, round again.
    await sleep(300);
    const later = await readRms(page);
    const moved = s.rms.filter((v, i) => later[i] !== undefined && v !== later[i]).length;
    const heapMb = m.JSHeapUsedSize / 2 ** 20;
    const rssMb = c.renderer?.rssMb ?? NaN;
    /** Share of the window the renderer's main thread spent on tasks (and on script, layout, style), from CDP's cumulative seconds. */
    const share = (name: string): string => `${(((m[name] - prev.m[name]) / dt) * 100).toFixed(1)} %`;
    busy.push((m.TaskDuration - prev.m.TaskDuration) / dt);
    const cpu = (type: string): string => (((c.byType.get(type) ?? 0) - (prev.c.byType.get(type) ?? 0)) / dt).toFixed(2);
    rows.push({ tS, heapMb, gcHeapMb, rssMb });
    all.push(...s.intervals);
    longTasks += s.longTasks;
    longTaskMs += s.longTaskMs;
    seqRates.push(s.seqAdvances / dt);
    stationsSeen = Math.min(stationsSeen, s.stations);
    console.log(
      [
        tS, f.fps.toFixed(1), f.p50.toFixed(1), f.p95.toFixed(1), f.p99.toFixed(1), f.max.toFixed(1),
        `${(f.over16 * 100).toFixed(1)} %`, `${(f.over33 * 100).toFixed(2)} %`, `${s.longTasks} (${s.longTaskMs.toFixed(0)} ms)`,
        (s.seqAdvances / dt).toFixed(1), (s.messages / dt).toFixed(1), s.stations, `${moved}/${s.rms.length}`,
        share('TaskDuration'), share('ScriptDuration'), share('LayoutDuration'), share('RecalcStyleDuration'),
        ((m.LayoutCount - prev.m.LayoutCount) / dt).toFixed(1),
        heapMb.toFixed(1), gcHeapMb.toFixed(1), m.Nodes, rssMb.toFixed(0), cpu('renderer'), cpu('gpu-process'),
        ((r.cpuS - prev.relay.cpuS) / dt).toFixed(2),
      ].join(' | '),
    );
    prev = { m, c, relay: r, at: performance.now() };
    if (k === 1 && values.profile !== undefined) await writeProfile(cdp, values.profile);
  }

  const total = frameStats(all);
  const warm = rows.filter((r) => r.tS >= WARMUP_S);
  const perMin = (pick: (r: Row) => number): number => (warm.length >= 2 ? slope(warm.map((r) => r.tS / 60), warm.map(pick)) : NaN);
  const heapSlope = perMin((r) => r.gcHeapMb);
  const rawHeapSlope = perMin((r) => r.heapMb);
  const rssSlope = perMin((r) => r.rssMb);
  seqRates = seqRates.sort((a, b) => a - b);
  const holds = total.fps >= displayHz * 0.95 && total.over33 < 0.01;
  const flat = heapSlope < 0.1 && rssSlope < 1;
  console.log('');
  console.log(
    `whole run: ${total.frames} frames, ${total.fps.toFixed(1)} fps (display ${displayHz.toFixed(1)} Hz), intervals p50 ${total.p50.toFixed(1)} / p95 ${total.p95.toFixed(1)} / p99 ${total.p99.toFixed(1)} / max ${total.max.toFixed(1)} ms, ` +
      `${(total.over16 * 100).toFixed(2)} % over 16.7 ms, ${(total.over33 * 100).toFixed(2)} % over 33.3 ms; ${longTasks} long tasks (${longTaskMs.toFixed(0)} ms)`,
  );
  console.log(`renderer main thread busy ${((busy.reduce((a, b) => a + b, 0) / busy.length) * 100).toFixed(1)} % of the time on average (CDP TaskDuration)`);
  console.log(`telemetry in the page: ${quantile(seqRates, 0).toFixed(1)}-${quantile(seqRates, 1).toFixed(1)} measurements/s per window (goal ${TELEMETRY_HZ}), at least ${stationsSeen} stations in each (goal ${N_STATIONS})`);
  console.log(
    `memory after ${WARMUP_S} s: heap after GC ${heapSlope >= 0 ? '+' : ''}${heapSlope.toFixed(3)} MB/min (as sampled ${rawHeapSlope >= 0 ? '+' : ''}${rawHeapSlope.toFixed(3)}), renderer RSS ${rssSlope >= 0 ? '+' : ''}${rssSlope.toFixed(2)} MB/min`,
  );
  console.log(`verdict: ${holds ? 'holds' : 'does NOT hold'} ${displayHz.toFixed(0)} fps; memory ${flat ? 'flat' : 'NOT flat'}${warm.length < 2 ? ' (too short a run to tell)' : ''}`);
  pumping = false;
  await pumpLoop;
} finally {
  await cleanup();
  // Our own Chromium processes only, in case one outlived the browser's close.
  for (const p of chromiumProcesses()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
process.exit(0);
