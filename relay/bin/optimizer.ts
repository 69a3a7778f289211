/**
 * `npm run optimizer -- [--url http://127.0.0.1:8080] [--token T | --token-file F]
 *   [--target-rms -20] [--tolerance 2] [--max-step 12] [--max-peak -1] [--grace-ms 1000]`
 *
 * The reference optimizer (seed 000 §3) against a running relay. Prints one line per
 * decision, verification, halt and error; SIGINT and SIGTERM stop it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OptimizerClient } from '../src/optimizer/client.ts';
import { Optimizer } from '../src/optimizer/optimizer.ts';

const USAGE = `usage: npm run optimizer -- [--url URL] [--token TOKEN | --token-file FILE]
  [--target-rms DBFS] [--tolerance DB] [--max-step DB] [--max-peak DBFS] [--grace-ms MS]

  --url          the relay (default http://127.0.0.1:8080)
  --token        bearer token with read:snapshots, read:audio and write:knobs
                 (default $TAPWIRE_TOKEN, else the file below)
  --token-file   file holding the token (default <$TAPWIRE_DATA_DIR or ./data>/admin-token)
  --target-rms   POST speech level target, dBFS (default -20)
  --tolerance    half-width of the level target, dB (default 2)
  --max-step     largest gain change per step, dB (default 12)
  --max-peak     POST peak limit, dBFS (default -1)
  --grace-ms     the relay's TAPWIRE_BUCKET_GRACE_MS (default 1000)`;

function fail(message: string): never {
  console.error(`optimizer: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'target-rms': { type: 'string', default: '-20' },
  tolerance: { type: 'string', default: '2' },
  'max-step': { type: 'string', default: '12' },
  'max-peak': { type: 'string', default: '-1' },
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

const targets = {
  levelDbfs: num('target-rms', values['target-rms'], -60, 0),
  toleranceDb: num('tolerance', values.tolerance, 0.1, 20),
  maxStepDb: num('max-step', values['max-step'], 0.1, 40),
  maxPeakDbfs: num('max-peak', values['max-peak'], -24, 0),
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
