// The relay's production build: its TypeScript (relay/, and the protocol/ and worklets/dsp
// files it imports) bundled by esbuild into JavaScript in dist/relay/, so `npm start` runs
// plain Node with no TypeScript loader. npm packages stay external (node_modules).
//
//   node relay/bin/build-relay.mjs              build dist/relay/
//   node relay/bin/build-relay.mjs --if-stale   build only if missing or older than its sources
//   node relay/bin/build-relay.mjs --outdir d   build into d (inside the project, for node_modules)
//
// Plain JavaScript on purpose: it runs before anything compiled exists, without tsx.
// Layout of the build (relay/src/layout.ts reads it): dist/relay/bin/*.js, the media worker
// at dist/relay/src/media/worker.js with worker-boot.mjs beside it, shared code in chunks/,
// and build-info.json at the root, written last: its presence marks a complete build.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_OUTDIR = join(ROOT, 'dist', 'relay');
const MARKER = 'build-info.json'; // relay/src/layout.ts BUILD_MARKER

/** Programs and worker threads, by their path under relay/. */
export const ENTRY_POINTS = ['bin/start.ts', 'bin/relay.ts', 'bin/token.ts', 'bin/optimizer.ts', 'bin/simulate.ts', 'src/media/worker.ts'];
/** Files copied as they are (the media worker's boot script, loaded by path). */
const COPIED = ['src/media/worker-boot.mjs'];
/** What the build is made from: a change in any of these (tests aside) makes it stale. */
const SOURCES = ['relay', 'protocol', 'worklets', 'package.json', 'tsconfig.json'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

/** 'missing', 'stale' or 'fresh'. */
export function relayBuildState(outdir = DEFAULT_OUTDIR) {
  const marker = join(outdir, MARKER);
  if (!existsSync(marker)) return 'missing';
  const sourcesAt = Math.max(...SOURCES.map((s) => newestMtime(join(ROOT, s))));
  return statSync(marker).mtimeMs < sourcesAt ? 'stale' : 'fresh';
}

/**
 * Builds into `outdir` (replacing it whole: a build half-written is never run). Returns
 * esbuild's warnings, which it also prints; throws on an error.
 */
export async function buildRelay(outdir = DEFAULT_OUTDIR) {
  const { build, version } = await import('esbuild');
  const target = resolve(outdir);
  if (relative(ROOT, target).startsWith('..')) throw new Error(`the relay build must be inside ${ROOT} (its imports resolve from node_modules there), not ${target}`);
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS.map((e) => join('relay', e)),
    outbase: 'relay',
    outdir: staging,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  for (const f of COPIED) {
    mkdirSync(dirname(join(staging, f)), { recursive: true });
    copyFileSync(join(ROOT, 'relay', f), join(staging, f));
  }
  writeFileSync(join(staging, MARKER), `${JSON.stringify({ builtAt: new Date().toISOString(), esbuild: version, entryPoints: ENTRY_POINTS }, null, 2)}\n`);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  renameSync(staging, target);
  return result.warnings;
}

/** Builds when the build is missing or stale; returns whether it built. */
export async function ensureRelayBuilt(outdir = DEFAULT_OUTDIR, log = console.log) {
  const state = relayBuildState(outdir);
  if (state === 'fresh') return false;
  log(state === 'missing' ? 'Building the relay (first start)...' : 'Relay sources changed since the last build: rebuilding the relay...');
  await buildRelay(outdir);
  return true;
}

async function main(args) {
  const ifStale = args.includes('--if-stale');
  const at = args.indexOf('--outdir');
  const outdir = at >= 0 ? resolve(args[at + 1] ?? '') : DEFAULT_OUTDIR;
  const unknown = args.filter((a, i) => a !== '--if-stale' && a !== '--outdir' && args[i - 1] !== '--outdir');
  if (unknown.length > 0 || (at >= 0 && args[at + 1] === undefined)) {
    console.error(`tapwire: build-relay takes --if-stale and --outdir <dir>, got ${args.join(' ')}`);
    process.exit(64);
  }
  if (ifStale) await ensureRelayBuilt(outdir);
  else {
    await buildRelay(outdir);
    console.log(`Built the relay into ${relative(process.cwd(), outdir) || '.'}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    // esbuild has printed the errors themselves.
    console.error(`tapwire: the relay build failed: ${err.message.split('\n')[0]}`);
    process.exit(1);
  });
}
