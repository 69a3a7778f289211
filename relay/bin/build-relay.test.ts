/**
 * The relay's production build (build-relay.mjs): it builds without a warning, it rebuilds
 * only when stale, and the compiled relay (plain Node, no tsx) really works: --help,
 * start-up checks, and a WebSocket station whose audio goes through the media workers into
 * a stored bucket, read back through the REST API.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sine } from '../src/audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../src/sim/simulator.ts';
import { waitFor } from '../src/testing/harness.ts';
import { startRelayProcess } from '../src/testing/relay-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Inside the project, where the build's imports find node_modules (dist/ is ignored by git).
const OUT = join(ROOT, 'dist', `relay-test-${process.pid}`);
const dirs: string[] = [OUT];

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

const build = (...args: string[]): Promise<{ code: number | null; out: string }> => run([process.execPath, 'relay/bin/build-relay.mjs', '--outdir', OUT, ...args]);

beforeAll(async () => {
  const r = await build();
  expect(r.code, r.out).toBe(0);
  // Nothing but the one line that says where it went: no esbuild warning.
  expect(r.out.trim()).toBe(`Built the relay into dist/relay-test-${process.pid}`);
}, 60_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the relay build', () => {
  it('lays out the programs, the media worker and its boot script, and marks itself complete', () => {
    for (const f of ['bin/start.js', 'bin/relay.js', 'bin/token.js', 'bin/optimizer.js', 'bin/simulate.js', 'src/media/worker.js', 'src/media/worker-boot.mjs', 'build-info.json']) {
      expect(existsSync(join(OUT, f)), f).toBe(true);
    }
    // npm packages stay in node_modules: fastify is imported, not bundled.
    const relay = readFileSync(join(OUT, 'bin', 'relay.js'), 'utf8') + readFileSync(join(OUT, 'src', 'media', 'worker.js'), 'utf8');
    expect(relay).not.toMatch(/tsx/);
  });

  it('--if-stale builds nothing when fresh, and rebuilds when older than its sources or incomplete', async () => {
    expect((await build('--if-stale')).out.trim()).toBe('');
    utimesSync(join(OUT, 'build-info.json'), new Date(0), new Date(0)); // older than every source
    expect((await build('--if-stale')).out.trim()).toBe('Relay sources changed since the last build: rebuilding the relay...');
    rmSync(join(OUT, 'build-info.json'));
    expect((await build('--if-stale')).out.trim()).toBe('Building the relay (first start)...');
    expect((await build('--if-stale')).out.trim()).toBe('');
  }, 60_000);

  it('refuses an unknown argument (64) and an output outside the project', async () => {
    const bad = await run([process.execPath, 'relay/bin/build-relay.mjs', '--watch']);
    expect(bad.code).toBe(64);
    expect(bad.out.trim()).toBe('tapwire: build-relay takes --if-stale and --outdir <dir>, got --watch');
    const outside = await run([process.execPath, 'relay/bin/build-relay.mjs', '--outdir', join(tmpdir(), 'tapwire-relay-build')]);
    expect(outside.code).toBe(1);
    expect(outside.out).toMatch(/^tapwire: the relay build failed: the relay build must be inside /m);
  });
});

describe('the compiled relay', () => {
  it('answers --help, and a bad argument or setting with its exit code', async () => {
    for (const bin of ['relay.js', 'start.js']) {
      const help = await run([process.execPath, join(OUT, 'bin', bin), '--help']);
      expect(help.code, help.out).toBe(0);
      expect(help.out).toMatch(/^Usage: npm start/);
    }
    const arg = await run([process.execPath, join(OUT, 'bin', 'relay.js'), '--port=1']);
    expect(arg.code).toBe(64);
    const setting = await run([process.execPath, join(OUT, 'bin', 'relay.js')], { TAPWIRE_LOG_FORMAT: 'xml' });
    expect(setting.code).toBe(78);
    expect(setting.out.trim()).toBe('tapwire: logFormat (TAPWIRE_LOG_FORMAT) must be one of auto, pretty, json, got "xml"');
  });

  it('takes a WebSocket station through its media workers into a stored bucket', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-compiled-'));
    dirs.push(dataDir);
    const relay = startRelayProcess({ buildDir: OUT, env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_MEDIA_WORKERS: '1', TAPWIRE_LOG_FORMAT: 'json' } });
    try {
      const base = await relay.ready;
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const station = new SimulatedStation({ url: `${base.replace('http', 'ws')}/ws/ingest`, audio: encodeAudio(sine(440, -20, 2, 48000), 48000, 'pcm16'), stationKey: 'compiled', durationS: 2 });
      const traceId = (await station.connect()).trace_id;
      await runStations([station]);
      const auth = { headers: { authorization: `Bearer ${token}` } };
      const bucket = await waitFor(
        async () => {
          const res = await fetch(`${base}/api/optimizer/snapshot?trace_id=${traceId}&limit=1`, auth);
          const body = (await res.json()) as { buckets?: { station_key: string; metrics: { PRE: Record<string, { count: number; max: number }> }; audio: { POST: { endpoint: string } } }[] };
          return body.buckets?.[0];
        },
        20_000,
        'a complete bucket of the compiled relay',
      );
      expect(bucket.station_key).toBe('compiled');
      // The worker metered the audio: a -20 dBFS sine peaks near -20 dBFS.
      const peak = bucket.metrics.PRE['pcm.peak_dbfs'];
      expect(peak.count).toBeGreaterThan(0);
      expect(peak.max).toBeGreaterThan(-20.5);
      expect(peak.max).toBeLessThan(-19.5);
      const wav = await fetch(`${base}${bucket.audio.POST.endpoint}`, auth);
      expect(wav.status).toBe(200);
      expect(Buffer.from(await wav.arrayBuffer()).subarray(0, 4).toString('latin1')).toBe('RIFF');
      // The JSON log is clean: no error from the workers.
      const entries = relay.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(entries.filter((e) => e.level >= 50)).toEqual([]);
    } finally {
      relay.child.kill('SIGTERM');
      expect(await relay.exited).toBe(0);
    }
  }, 60_000);
});
