/**
 * What can stop the relay from starting, said in one line each, with an exit code a script
 * or a service manager can tell apart (BSD sysexits.h), instead of a stack trace:
 *
 *   64 usage        an unknown command-line argument
 *   69 unavailable  Node older than Tapwire supports; the port taken; the address not here
 *                   or not allowed
 *   73 cantcreat    the data directory cannot be created or written
 *   78 config       a TAPWIRE_* variable that is not valid
 *
 * Anything else is a fault of the relay itself and keeps its stack trace (exit code 1).
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EXIT = { usage: 64, unavailable: 69, software: 70, cantCreate: 73, config: 78 } as const;

/** The oldest Node Tapwire runs on (package.json `engines`). */
export const MIN_NODE = [20, 19] as const;

export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export const HELP = `Usage: npm start [-- --tls]  (or: npm run relay, which skips building the app)

Starts the Tapwire relay: the PWA, the API, ingest and listening on one port.
Settings come from TAPWIRE_* environment variables (README.md, "Configuration"), e.g.
  TAPWIRE_PORT=8080          the port (0: any free one)
  TAPWIRE_HOST=127.0.0.1     the address; 0.0.0.0 for every network (tokens then required)
  TAPWIRE_DATA_DIR=./data    SQLite, audio segments and the admin token
  TAPWIRE_TLS_CERT, TAPWIRE_TLS_KEY   PEM files: serve https:// and wss:// (docs/HTTPS.md)
  --tls (or TAPWIRE_TLS=local)        HTTPS with a local CA made in <data dir>/tls/
                                      (npm run tls -- --help), so phones may capture

Exit codes: 0 stopped; 64 bad arguments; 69 Node too old, or the port or address
unavailable; 70 the app not built and its build failing; 73 data directory not writable;
78 a setting not valid; 1 anything else.`;

/** True for --help or -h; no arguments is a start; anything else is a usage error. */
export function wantsHelp(args: readonly string[]): boolean {
  if (args.length === 0) return false;
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) return true;
  throw new StartupError(`unknown argument ${args.find((a) => a !== '--help' && a !== '-h') ?? args[0]}: the relay takes its settings from TAPWIRE_* variables (see --help).`, EXIT.usage);
}

/** The start command's arguments: --help (or -h) alone, and --tls (HTTPS with the local CA). */
export function parseStartArgs(args: readonly string[]): { help: boolean; tls: boolean } {
  const tls = args.includes('--tls');
  return { help: wantsHelp(args.filter((a) => a !== '--tls')), tls };
}

/** Refuses a Node older than MIN_NODE (`version` as process.versions.node). */
export function checkNode(version: string): void {
  const [major, minor] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return;
  throw new StartupError(`Tapwire needs Node ${MIN_NODE.join('.')} or later; this is Node ${version}. Install a newer Node (https://nodejs.org) and run the command again.`, EXIT.unavailable);
}

/** Makes sure the data directory exists and takes a file, or says why not. */
export function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    // As root, access() says yes to almost anything: writing a file is the real test.
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StartupError(`the data directory ${dir} cannot be written (${code}): set TAPWIRE_DATA_DIR to a directory this user can write, or fix its permissions.`, EXIT.cantCreate);
  }
}

/** A failure to listen, said plainly; null for anything else. */
export function explainListenError(err: unknown, host: string, port: number): StartupError | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new StartupError(`port ${port} on ${host} is already in use by another program: stop it, or start Tapwire on another port, e.g. TAPWIRE_PORT=${port === 65535 ? port - 1 : port + 1} npm start.`, EXIT.unavailable);
  }
  if (code === 'EACCES') {
    return new StartupError(`this user may not listen on ${where} (ports below 1024 need privileges): choose a port from 1024 up with TAPWIRE_PORT.`, EXIT.unavailable);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new StartupError(`${host} is not an address of this machine: set TAPWIRE_HOST to one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every network).`, EXIT.unavailable);
  }
  return null;
}

/** A configuration error (config.ts throws TypeError naming the variable) as a StartupError. */
export function configError(err: unknown): StartupError | null {
  return err instanceof TypeError ? new StartupError(err.message, EXIT.config) : null;
}

/** Prints the one line and exits with its code. */
export function exitWith(err: StartupError): never {
  console.error(`tapwire: ${err.message}`);
  process.exit(err.exitCode);
}

/**
 * The app's build failed (its own output is above). With no earlier build the relay has
 * nothing to serve: one line and exit 70. With an older one it serves that: null, and the
 * caller warns.
 */
export function appBuildError(state: 'missing' | 'stale', buildDir: string, reason: string): StartupError | null {
  if (state === 'stale') return null;
  return new StartupError(
    `the app is not built (no ${buildDir}/index.html) and its build failed: ${reason}. Fix the error printed above, or run npm ci if its dependencies are missing or incomplete.`,
    EXIT.software,
  );
}
