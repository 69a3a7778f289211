/**
 * A relay in its own process (`relay/bin/relay.ts`), for tests that kill or signal it and
 * for benchmarks that measure it apart from their load. `ready` resolves with the URL the
 * relay prints once it accepts connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Caps lifted for benchmarks: a load generator is one client address opening hundreds of
 * stations and connections, which the per-address caps exist to refuse.
 */
export const BENCHMARK_LIMITS: NodeJS.ProcessEnv = {
  TAPWIRE_MAX_STATIONS: '10000',
  TAPWIRE_MAX_STATIONS_PER_ADDRESS: '10000',
  TAPWIRE_MAX_INGEST_CONNECTIONS: '20000',
  TAPWIRE_MAX_TELEMETRY_CLIENTS: '20000',
  TAPWIRE_MAX_CONNECTIONS_PER_ADDRESS: '20000',
  TAPWIRE_MAX_LISTENERS: '20000',
  TAPWIRE_MAX_LISTENERS_PER_ADDRESS: '20000',
  TAPWIRE_MAX_LISTENERS_PER_STREAM: '20000',
};

export interface RelayProcess {
  child: ChildProcess;
  /** The relay's http(s)://host:port, once it is running. */
  ready: Promise<string>;
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
}

export function startRelayProcess(opts: {
  env: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  /** Arguments of relay/bin/relay.ts (`--tls`). */
  args?: string[];
  startTimeoutMs?: number;
  /** Copy the relay's stderr to ours (benchmarks). */
  echoStderr?: boolean;
  /** Run the relay (every thread) on these cores only (`taskset -c`, benchmarks). */
  cpus?: string | null;
  /** Run the relay of another checkout of Tapwire (with its node_modules): benchmarks comparing versions. */
  root?: string;
  /** Run the compiled relay of this build directory (relay/bin/build-relay.mjs) instead of its sources through tsx. */
  buildDir?: string;
}): RelayProcess {
  const entry = opts.buildDir !== undefined ? [join(opts.buildDir, 'bin', 'relay.js')] : ['--import', 'tsx', 'relay/bin/relay.ts'];
  const node = [process.execPath, ...(opts.nodeArgs ?? []), ...entry, ...(opts.args ?? [])];
  const argv = opts.cpus ? ['taskset', '-c', opts.cpus, ...node] : node;
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.root ?? ROOT,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${opts.startTimeoutMs ?? 30_000} ms: ${out}`)), opts.startTimeoutMs ?? 30_000);
    timer.unref();
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.length > 64 * 1024) out = out.slice(-32 * 1024); // bounded, however long it runs
      const m = /Tapwire is running: (https?:\/\/[^\s/]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    if (opts.echoStderr) child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${out}`)));
  });
  return { child, ready, exited, output: () => out };
}
