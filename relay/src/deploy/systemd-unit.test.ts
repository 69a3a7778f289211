/**
 * deploy/systemd/tapwire.service as shipped: systemd's own checker accepts it without a
 * warning, and it says what docs/DEPLOY.md promises (a dedicated user, a persistent data
 * directory, a sandbox, SIGTERM with time for the relay's graceful stop). A copy with a
 * mistake is refused, so the check is known to look.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UNIT = join(ROOT, 'deploy/systemd/tapwire.service');
const ANALYZE = '/usr/bin/systemd-analyze';
const dir = mkdtempSync(join(tmpdir(), 'tapwire-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The unit as installed on this machine: verify checks that ExecStart's program exists, so
 * where Node is not /usr/bin/node (a developer's nvm) the copy names this Node instead.
 */
function installedCopy(text: string): string {
  const path = join(dir, 'tapwire.service');
  writeFileSync(path, existsSync('/usr/bin/node') ? text : text.replace('/usr/bin/node', process.execPath));
  return path;
}

/** `systemd-analyze verify`: its exit code and what it said about our unit (lines naming other units are the host's). */
function verify(path: string): { status: number | null; ours: string[] } {
  const r = spawnSync(ANALYZE, ['verify', '--man=no', path], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('tapwire.service'));
  return { status: r.status, ours };
}

/** Every value of `key` in the unit, in order. */
function values(text: string, key: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

describe.skipIf(skipWithout('systemd-analyze (Debian package systemd)', existsSync(ANALYZE)))('deploy/systemd/tapwire.service', () => {
  const text = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify with no warning about it', () => {
    const r = verify(installedCopy(text));
    expect(r.ours).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('is refused with a mistake in it (an unknown key, a program that is not there)', () => {
    const broken = text.replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomes=yes').replace('ExecStart=/usr/bin/node', 'ExecStart=/usr/bin/no-such-node');
    const path = join(dir, 'tapwire.service');
    writeFileSync(path, broken);
    const r = verify(path);
    expect(r.ours.join('\n')).toMatch(/Unknown key 'ProtectHomes'/);
    expect(r.ours.join('\n')).toMatch(/no-such-node is not executable/);
    expect(r.status).not.toBe(0);
  });

  it('runs the relay from /opt/tapwire as its own user, its data in /var/lib/tapwire', () => {
    expect(values(text, 'User')).toEqual(['tapwire']);
    expect(values(text, 'WorkingDirectory')).toEqual(['/opt/tapwire']);
    // The compiled relay (relay/bin/build-relay.mjs builds bin/relay.ts into dist/relay/bin/relay.js).
    expect(values(text, 'ExecStart')).toEqual(['/usr/bin/node dist/relay/bin/relay.js']);
    expect(readFileSync(join(ROOT, 'relay/bin/build-relay.mjs'), 'utf8')).toContain("'bin/relay.ts'");
    expect(values(text, 'StateDirectory')).toEqual(['tapwire']);
    expect(values(text, 'Environment')).toEqual(expect.arrayContaining(['TAPWIRE_DATA_DIR=/var/lib/tapwire', 'TAPWIRE_HOST=127.0.0.1', 'TAPWIRE_PORT=8080', 'TAPWIRE_TRUSTED_PROXIES=127.0.0.1']));
    expect(values(text, 'ReadWritePaths')).toEqual(['/var/lib/tapwire']);
  });

  it('is sandboxed, restarts on failure, and stops with SIGTERM and time to finalize', () => {
    for (const [key, value] of [['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['NoNewPrivileges', 'yes'], ['Restart', 'on-failure'], ['KillSignal', 'SIGTERM']]) {
      expect(values(text, key), key).toEqual([value]);
    }
    // The stop lets HTTP requests finish for 5 s (relay.ts STOP_GRACE_MS) after the buckets are written.
    const [stop] = values(text, 'TimeoutStopSec');
    expect(Number(/^(\d+)s$/.exec(stop)?.[1])).toBeGreaterThanOrEqual(30);
    // A bad setting exits 78 (startup-checks.ts): restarting will not fix it.
    expect(values(text, 'RestartPreventExitStatus')[0].split(' ')).toEqual(expect.arrayContaining(['64', '69', '73', '78']));
  });
});
