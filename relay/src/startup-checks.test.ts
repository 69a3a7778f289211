/**
 * The relay's start-up checks: each problem is one line on stderr and its own exit code
 * (startup-checks.ts), never a stack trace. The commands run as their own processes, as a
 * user runs them.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLine, runCommand, type CommandResult } from './testing/relay-command.ts';
import { checkNode, EXIT, explainListenError, parseStartArgs, StartupError, wantsHelp } from './startup-checks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tapwire-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A command with this file's defaults: warnings only, a data dir of its own. */
function run(script: string, args: string[], env: Record<string, string>, cwd?: string): Promise<CommandResult> {
  return runCommand(script, args, { TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_DATA_DIR: join(dir, 'data'), ...env }, cwd);
}

describe('start-up checks, as functions', () => {
  it('takes Node 20.19 and later, and names the version it refuses', () => {
    for (const v of ['20.19.0', '20.20.2', '22.1.0', '24.0.0']) expect(() => checkNode(v)).not.toThrow();
    for (const v of ['20.18.3', '18.20.4']) {
      const err = (() => {
        try {
          checkNode(v);
        } catch (e) {
          return e as StartupError;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(StartupError);
      expect(err?.exitCode).toBe(EXIT.unavailable);
      expect(err?.message).toContain(`this is Node ${v}`);
    }
  });

  it('reads --help and -h, refuses any other argument', () => {
    expect(wantsHelp([])).toBe(false);
    expect(wantsHelp(['--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(() => wantsHelp(['--port', '80'])).toThrow(/unknown argument --port/);
  });

  it('takes --tls (HTTPS with the local CA) beside --help, and nothing else', () => {
    expect(parseStartArgs([])).toEqual({ help: false, tls: false });
    expect(parseStartArgs(['--tls'])).toEqual({ help: false, tls: true });
    expect(parseStartArgs(['--help', '--tls'])).toEqual({ help: true, tls: true });
    expect(() => parseStartArgs(['--tls', '--https'])).toThrow(/unknown argument --https/);
  });

  it('explains the listen errors a user can fix, and no other', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(explainListenError(err('EADDRINUSE'), '127.0.0.1', 8080)?.message).toMatch(/port 8080 on 127\.0\.0\.1 is already in use.*TAPWIRE_PORT=8081/);
    expect(explainListenError(err('EACCES'), '0.0.0.0', 80)?.message).toMatch(/below 1024/);
    expect(explainListenError(err('EADDRNOTAVAIL'), '10.9.9.9', 8080)?.message).toMatch(/10\.9\.9\.9 is not an address of this machine.*TAPWIRE_HOST/);
    expect(explainListenError(new Error('something else'), '127.0.0.1', 8080)).toBeNull();
  });
});

describe('start-up checks, as a user meets them', () => {
  it('port in use, data directory not writable, a bad variable, help and a bad argument: one line and its exit code each', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    try {
      const [inUse, notWritable, badVariable, help, startHelp, badArgument] = await Promise.all([
        run('relay/bin/relay.ts', [], { TAPWIRE_PORT: String(port) }),
        run('relay/bin/relay.ts', [], { TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: join(file, 'data') }),
        run('relay/bin/relay.ts', [], { TAPWIRE_PORT: 'eighty' }),
        run('relay/bin/relay.ts', ['--help'], {}),
        run('relay/bin/start.ts', ['-h'], {}),
        run('relay/bin/start.ts', ['--verbose'], {}),
      ]);
      expect(inUse.code, inUse.stderr).toBe(EXIT.unavailable);
      expectOneLine(inUse.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use by another program.*TAPWIRE_PORT=${port + 1}`));
      expect(notWritable.code, notWritable.stderr).toBe(EXIT.cantCreate);
      expectOneLine(notWritable.stderr, /the data directory .*a-file\/data cannot be written \(ENOTDIR\): set TAPWIRE_DATA_DIR/);
      expect(badVariable.code, badVariable.stderr).toBe(EXIT.config);
      expectOneLine(badVariable.stderr, /TAPWIRE_PORT/);
      for (const h of [help, startHelp]) {
        expect(h.code, h.stderr).toBe(0);
        expect(h.stdout).toMatch(/^Usage: npm start/);
        expect(h.stdout).toMatch(/Exit codes: 0 stopped; 64 bad arguments; 69 .*73 .*78 /s);
      }
      expect(badArgument.code, badArgument.stderr).toBe(EXIT.usage);
      expectOneLine(badArgument.stderr, /unknown argument --verbose/);
    } finally {
      taken.close();
    }
  }, 60_000);
});

describe('start-up checks: an app that does not build', () => {
  /** A copy of the project whose app has a syntax error (the dependencies linked, not copied). */
  function brokenCopy(name: string): string {
    const copy = join(dir, name);
    for (const part of ['relay', 'protocol', 'worklets', 'app', 'static', '.svelte-kit', 'package.json', 'svelte.config.js', 'vite.config.ts', 'tsconfig.json']) {
      cpSync(join(ROOT, part), join(copy, part), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    appendFileSync(join(copy, 'app/routes/+layout.svelte'), '\n<script>const = ;</script>\n');
    return copy;
  }

  it('not built and not buildable: npm start stops with one line and exit 70; an older build is served with a warning', async () => {
    const missing = brokenCopy('never-built');
    const stale = brokenCopy('built-before');
    // An earlier build, older than the sources that no longer build.
    mkdirSync(join(stale, 'build'));
    writeFileSync(join(stale, 'build/index.html'), '<!doctype html><title>the earlier build</title>');
    utimesSync(join(stale, 'build/index.html'), new Date(Date.now() - 86_400_000), new Date(Date.now() - 86_400_000));

    const none = await run('relay/bin/start.ts', [], { TAPWIRE_PORT: '0' }, missing);
    expect(none.code, none.stderr).toBe(EXIT.software);
    const last = none.stderr.split('\n').filter((l) => l.trim() !== '').at(-1) ?? '';
    expect(last).toMatch(/^tapwire: the app is not built \(no .*build\/index\.html\) and its build failed: the app build failed \(vite build exited with 1\)\. Fix the error printed above, or run npm ci/);
    expect(none.stdout).not.toMatch(/Tapwire is running/);

    // With an older build the relay starts, says why, and serves that build.
    const child = spawn(process.execPath, ['--import', 'tsx', 'relay/bin/start.ts'], {
      cwd: stale,
      env: { ...process.env, TAPWIRE_LOG_LEVEL: 'warn', TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: join(dir, 'stale-data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Tapwire is running: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`start.ts exited with ${code}:\n${out}\n${err}`)));
      });
      expect(err).toMatch(/^tapwire: warning: the app build failed \(vite build exited with 1\) \(its output is above\): serving the previous build of the app/m);
      expect(await (await fetch(`${url}/`)).text()).toContain('the earlier build');
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
