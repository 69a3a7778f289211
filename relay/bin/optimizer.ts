/**
 * `npm run optimizer -- [--url http://127.0.0.1:8080] [--token T | --token-file F]
 *   [--target rms|loudness] [--level DB] [--tolerance DB] [--max-peak DB] [--max-step 12]
 *   [--min-audio-s 1] [--min-speech-s 1] [--grace-ms 1000]`
 *
 * The reference optimizer (seed 000 §3) against a running relay, deciding from the bucket
 * rows alone (no audio is fetched). Prints one line per decision, hold, verification, halt
 * and error; SIGINT and SIGTERM stop it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OptimizerClient } from '../src/optimizer/client.ts';
import { Optimizer } from '../src/optimizer/optimizer.ts';
import { LOUDNESS_TARGETS, RMS_TARGETS, TARGET_MODES, type TargetMode } from '../src/optimizer/targets.ts';

const USAGE = `usage: npm run optimizer -- [--url URL] [--token TOKEN | --token-file FILE]
  [--target rms|loudness] [--level DB] [--tolerance DB] [--max-peak DB] [--max-step DB]
  [--min-audio-s S] [--min-speech-s S] [--grace-ms MS]

  --url           the relay (default http://127.0.0.1:8080)
  --token         bearer token with read:snapshots and write:knobs
                  (default $TAPWIRE_TOKEN, else the file below)
  --token-file    file holding the token (default <$TAPWIRE_DATA_DIR or ./data>/admin-token)
  --target        what to aim the POST tap at (default rms):
                    rms       speech level ${RMS_TARGETS.levelDb} ± ${RMS_TARGETS.toleranceDb} dBFS, sample peak ≤ ${RMS_TARGETS.maxPeakDb} dBFS
                    loudness  EBU R 128: ${LOUDNESS_TARGETS.levelDb} ± ${LOUDNESS_TARGETS.toleranceDb} LUFS, true peak ≤ ${LOUDNESS_TARGETS.maxPeakDb} dBTP
                  both read the bucket's gated loudness (loudness.integrated_lufs)
  --level         centre of the level target: dBFS (rms) or LUFS (loudness)
  --target-rms    the same as --level, for rms mode (kept for older scripts)
  --tolerance     half-width of the level target, dB or LU
  --max-peak      POST peak ceiling: dBFS sample peak (rms) or dBTP true peak (loudness)
  --max-step      largest gain change per step, dB (default ${RMS_TARGETS.maxStepDb})
  --min-audio-s   hold buckets with less audio than this, s (default ${RMS_TARGETS.minCoveredS})
  --min-speech-s  hold buckets with less active speech than this, s (default ${RMS_TARGETS.minActiveS})
  --grace-ms      the relay's TAPWIRE_BUCKET_GRACE_MS (default 1000)`;

function fail(message: string): never {
  console.error(`optimizer: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  target: { type: 'string', default: 'rms' },
  level: { type: 'string' },
  'target-rms': { type: 'string' },
  tolerance: { type: 'string' },
  'max-step': { type: 'string' },
  'max-peak': { type: 'string' },
  'min-audio-s': { type: 'string' },
  'min-speech-s': { type: 'string' },
  'grace-ms': { type: 'string', default: '1000' },
  help: { type: 'boolean', default: false },
} as const;

function parse(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'] {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
}
const values = parse();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function num(name: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) fail(`--${name} must be a number from ${min} to ${max}, got "${text}"`);
  return v;
}

function readToken(): string {
  if (values.token !== undefined) return values.token;
  if (values['token-file'] === undefined && process.env.TAPWIRE_TOKEN) return process.env.TAPWIRE_TOKEN;
  const file = resolve(values['token-file'] ?? join(process.env.TAPWIRE_DATA_DIR ?? './data', 'admin-token'));
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token === '') fail(`${file} is empty`);
    return token;
  } catch (err) {
    return fail(`no token: pass --token or --token-file, set TAPWIRE_TOKEN, or start the relay once so that it writes ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A flag's number, or undefined when the flag is absent (the mode's default then applies). */
function opt(name: keyof typeof values, min: number, max: number): number | undefined {
  const text = values[name];
  return typeof text === 'string' ? num(name, text, min, max) : undefined;
}

const mode = values.target as TargetMode;
if (!(TARGET_MODES as readonly string[]).includes(mode)) fail(`--target must be ${TARGET_MODES.join(' or ')}, got "${values.target}"`);
if (values['target-rms'] !== undefined && mode !== 'rms') fail('--target-rms is a level in dBFS for --target rms; with --target loudness use --level (LUFS)');
if (values['target-rms'] !== undefined && values.level !== undefined) fail('give --level or --target-rms, not both');
const targets = {
  mode,
  levelDb: opt('level', -70, 0) ?? opt('target-rms', -70, 0),
  toleranceDb: opt('tolerance', 0.1, 20),
  maxStepDb: opt('max-step', 0.1, 40),
  maxPeakDb: opt('max-peak', -24, 0),
  minCoveredS: opt('min-audio-s', 0, 5),
  minActiveS: opt('min-speech-s', 0, 5),
};
let client: OptimizerClient;
try {
  client = new OptimizerClient({ baseUrl: values.url, token: readToken() });
} catch (err) {
  fail((err as Error).message);
}
const optimizer = new Optimizer({ client, targets, graceMs: num('grace-ms', values['grace-ms'], 0, 4999) });
optimizer.start();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void optimizer.stop().then(() => process.exit(0));
  });
}
