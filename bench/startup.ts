/**
 * Start-up time of the relay from its TypeScript sources (`node --import tsx
 * relay/bin/relay.ts`, as `npm run relay`) against its compiled build (`node
 * dist/relay/bin/relay.js`, what `npm start` runs): from the spawn to the first 200 from
 * `GET /healthz`, polled every 5 ms, each start with a new data directory. Runs alternate
 * between the two so that a busy moment of the machine falls on both.
 *
 *   npm run bench:startup -- [--runs 10] [--workers <n>]
 *
 * Builds dist/relay first if it is missing or stale (relay/bin/build-relay.mjs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, workers: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new RangeError(`--runs must be an integer from 1 to 100, got ${values.runs}`);
const workers = values.workers ?? String(availableParallelism());
if (!/^\d+$/.test(workers) || Number(workers) < 1) throw new RangeError(`--workers must be a positive integer, got ${workers}`);

const PATHS = {
  source: ['--import', 'tsx', 'relay/bin/relay.ts'],
  compiled: ['dist/relay/bin/relay.js'],
} as const;
type PathName = keyof typeof PATHS;

/** A port free now (the relay binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Spawns one relay and returns ms from the spawn to its first healthy answer; stops it. */
async function startOnce(path: PathName): Promise<number> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-bench-startup-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, PATHS[path], {
    cwd: ROOT,
    env: { ...process.env, TAPWIRE_PORT: String(port), TAPWIRE_DATA_DIR: dataDir, TAPWIRE_MEDIA_WORKERS: workers, TAPWIRE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let failed: number | null | undefined;
  void exited.then((code) => (failed = code));
  try {
    for (;;) {
      if (failed !== undefined) throw new Error(`the ${path} relay exited with ${failed}: ${stderr}`);
      if (performance.now() - t0 > 60_000) throw new Error(`the ${path} relay did not answer /healthz within 60 s: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const built = spawnSync(process.execPath, ['relay/bin/build-relay.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
if (built.status !== 0) throw new Error('the relay build failed');

const times: Record<PathName, number[]> = { source: [], compiled: [] };
await startOnce('compiled'); // one unmeasured start each: the file cache
await startOnce('source');
for (let i = 0; i < runs; i++) {
  for (const path of i % 2 === 0 ? (['source', 'compiled'] as const) : (['compiled', 'source'] as const)) times[path].push(await startOnce(path));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`relay start-up, spawn to first 200 from /healthz: ${runs} runs each, ${workers} media workers, Node ${process.versions.node}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'})`);
console.log('path       median ms   min ms   max ms');
for (const path of ['source', 'compiled'] as const) {
  const xs = times[path];
  console.log(`${path.padEnd(10)} ${median(xs).toFixed(0).padStart(9)} ${Math.min(...xs).toFixed(0).padStart(8)} ${Math.max(...xs).toFixed(0).padStart(8)}`);
}
