/**
 * How many concurrent Opus 48 kHz mono stations this machine sustains through the full
 * pipeline (decode, chain, meters, buckets, WAV segments) with no dropped frame and a p99
 * per-frame latency (arrival to POST meters) under 20 ms.
 *
 *   npm run bench:stations -- [--steps 100,150,200,250,300] [--seconds 20]
 *
 * The relay runs as its own process, as in production; the simulated field testers run in
 * this process, on the same cores (their cost is part of the load). Each step streams N
 * stations in real time, discards a warm-up, then measures one window.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RelayStatsResponse } from '../protocol/api.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { BENCHMARK_LIMITS, startRelayProcess } from '../relay/src/testing/relay-process.ts';
import { procStat } from './proc-stat.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100,150,200,250,300' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '4' },
    workers: { type: 'string' },
    /** Write V8 CPU profiles of the relay's threads to this directory. */
    profile: { type: 'string' },
  },
});
const steps = values.steps.split(',').map(Number);
const measureS = Number(values.seconds);
const warmupS = Number(values.warmup);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...BENCHMARK_LIMITS,
  TAPWIRE_PORT: '0',
  TAPWIRE_DATA_DIR: dataDir,
  TAPWIRE_LOG_LEVEL: 'warn',
  // Keep the disk in check: 300 stations write about 58 MB/s of segments.
  TAPWIRE_SEGMENT_MAX_MB: '1500',
};
if (values.workers) env.TAPWIRE_MEDIA_WORKERS = values.workers;
const profileArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
const relayProcess = startRelayProcess({ env, nodeArgs: profileArgs, echoStderr: true });
const relay = relayProcess.child;
const url = await relayProcess.ready;
const wsUrl = `${url.replace('http', 'ws')}/ws/ingest`;

const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
async function stats(reset = false): Promise<RelayStatsResponse> {
  const r = await fetch(`${url}/api/relay/stats${reset ? '?reset_latency=1' : ''}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return (await r.json()) as RelayStatsResponse;
}

const audio = encodeAudio(speechLike(-20, 10, 48000, 7), 48000, 'opus');
console.log(`Tapwire station benchmark: Opus 48 kHz mono, 20 ms frames, ${(audio.packets.reduce((n, p) => n + p.length, 0) * 8 / 10 / 1000).toFixed(1)} kbit/s`);
console.log(`relay pid ${relay.pid}, ${env.TAPWIRE_MEDIA_WORKERS ?? 'default'} media workers; warm-up ${warmupS} s, window ${measureS} s per step\n`);
console.log('stations | p50 ms | p99 ms | max ms | frames   | dropped | late | relay CPU (cores) | CPU/station (% core) | relay RSS MB | verdict');
console.log('---------|--------|--------|--------|----------|---------|------|-------------------|----------------------|--------------|--------');

let best = 0;
const baseline = procStat(relay.pid!);
for (const n of steps) {
  const stationsList: SimulatedStation[] = [];
  for (let i = 0; i < n; i++) {
    stationsList.push(new SimulatedStation({ url: wsUrl, audio, label: `bench-${i}`, durationS: 3600, offsetMs: (i * 20) / n }));
  }
  await Promise.all(stationsList.map((s) => s.connect()));
  let running = true;
  const pumpLoop = (async () => {
    while (running) {
      const now = performance.now();
      for (const s of stationsList) s.pump(now);
      await sleep(4);
    }
  })();
  await sleep(warmupS * 1000);
  const before = await stats(true);
  const p0 = procStat(relay.pid!);
  await sleep(measureS * 1000);
  const after = await stats(true);
  const p1 = procStat(relay.pid!);
  running = false;
  await pumpLoop;
  for (const s of stationsList) s.stop();
  await Promise.all(stationsList.map((s) => Promise.race([s.done, sleep(5000)])));

  const dropped = after.relay.frames_dropped - before.relay.frames_dropped;
  const late = after.relay.late_frames - before.relay.late_frames + after.relay.resyncs - before.relay.resyncs;
  const frames = after.relay.frames_received - before.relay.frames_received;
  const cores = (p1.cpuS - p0.cpuS) / measureS;
  const lat = after.pipeline_latency_ms;
  const ok = dropped === 0 && late === 0 && lat.p99 < 20;
  if (ok) best = Math.max(best, n);
  console.log(
    [
      String(n).padStart(8),
      lat.p50.toFixed(1).padStart(6),
      lat.p99.toFixed(1).padStart(6),
      lat.max.toFixed(1).padStart(6),
      String(frames).padStart(8),
      String(dropped).padStart(7),
      String(late).padStart(4),
      cores.toFixed(2).padStart(17),
      ((cores / n) * 100).toFixed(2).padStart(20),
      p1.rssMb.toFixed(0).padStart(12),
      ok ? 'ok' : 'FAIL',
    ].join(' | '),
  );
  await sleep(7000); // let the last buckets finalize and be written
}
const idle = procStat(relay.pid!);
console.log(`\nrelay RSS idle at start ${baseline.rssMb.toFixed(0)} MB, after the run ${idle.rssMb.toFixed(0)} MB`);
console.log(`largest sustained: ${best} stations (no dropped or late frame, p99 < 20 ms)`);
relay.kill('SIGTERM');
await new Promise((r) => relay.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
