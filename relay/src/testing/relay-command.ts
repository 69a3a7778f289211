/**
 * One of Tapwire's commands (`relay/bin/*.ts`) run as its own process, as a user runs it,
 * for tests of what it prints and how it exits: the start-up checks, bad settings.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node --import tsx <script> <args>` from `cwd` (default the project) with
 * process.env and `env` on top. A command still running after 30 s (a relay that started
 * where a check should have stopped it) gets SIGTERM: it then exits with code 0.
 */
export function runCommand(script: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one line a failed start-up check prints (`tapwire: ...`), and no stack trace. */
export function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tapwire: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}
