/**
 * `npm run token` (`node --import tsx relay/bin/token.ts`) as its own process on the data
 * dir of a running relay: a created token works at once with exactly its scopes, a revoked
 * one stops working at once, and bad arguments exit non-zero saying what was wrong.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../src/testing/harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let t: TestRelay;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tokenCli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'relay/bin/token.ts', ...args],
      { cwd: ROOT, env: { ...process.env, TAPWIRE_DATA_DIR: t.dataDir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      },
    );
  });
}

/** The token id and the token from `create`'s output. */
function parseCreated(run: Run): { id: string; token: string } {
  expect(run.code, run.stderr).toBe(0);
  const id = /\b(tok_[0-9a-f]+)\b/.exec(run.stdout)?.[1];
  const token = /^(tw_\S+)$/m.exec(run.stdout)?.[1];
  expect(id, run.stdout).toBeDefined();
  expect(token, run.stdout).toBeDefined();
  return { id: id as string, token: token as string };
}

async function status(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; code?: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${t.httpUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await r.json()) as { error?: { code: string } };
  return { status: r.status, code: json.error?.code };
}

const SNAPSHOT = '/api/optimizer/snapshot?trace_id=trace_nothere';
const SEGMENT = '/api/audio/segment?trace_id=trace_nothere&station_key=St_1&tap=PRE&bucket_ts=2026-01-03T21:15:00.000Z';
const APPLY_BODY = {
  trace_id: 'trace_nothere',
  station_key: 'St_1',
  apply_at_bucket_ts: '2030-01-01T00:00:00.000Z',
  idempotency_key: 'token-cli-test',
  knobs: { 'pcm.input_gain_db': 1 },
};

beforeAll(async () => {
  t = await startTestRelay();
});

afterAll(async () => {
  await t?.close();
});

describe('npm run token', () => {
  it('creates a read:snapshots token that works on snapshots at once, gets 403 on apply and segments; revoke makes it 401', async () => {
    const created = await tokenCli('create', '--scopes', 'read:snapshots');
    const { id, token } = parseCreated(created);
    // Past auth to the handler: the trace is unknown.
    expect(await status('GET', SNAPSHOT, token)).toEqual({ status: 404, code: 'trace_not_found' });
    expect((await status('GET', '/api/traces/active', token)).status).toBe(200);
    expect(await status('POST', '/api/optimizer/knobs/apply', token, APPLY_BODY)).toEqual({ status: 403, code: 'forbidden' });
    expect(await status('GET', SEGMENT, token)).toEqual({ status: 403, code: 'forbidden' });

    const listed = await tokenCli('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+active\\s+read:snapshots`));
    expect(listed.stdout.includes(token)).toBe(false); // shown once, at creation

    const revoked = await tokenCli('revoke', id);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await status('GET', SNAPSHOT, token)).toEqual({ status: 401, code: 'unauthorized' });
    expect(await status('GET', '/api/traces/active', token)).toEqual({ status: 401, code: 'unauthorized' });
    expect((await tokenCli('list')).stdout).toMatch(new RegExp(`${id}\\s+revoked`));
  });

  it('creates a token with several scopes and a label', async () => {
    const { token } = parseCreated(await tokenCli('create', '--scopes', 'read:snapshots,read:audio', '--label', 'operator page'));
    expect(await status('GET', SEGMENT, token)).toEqual({ status: 404, code: 'trace_not_found' });
    expect(await status('GET', SNAPSHOT, token)).toEqual({ status: 404, code: 'trace_not_found' });
    expect(await status('POST', '/api/optimizer/knobs/apply', token, APPLY_BODY)).toEqual({ status: 403, code: 'forbidden' });
    const knobs = parseCreated(await tokenCli('create', '--scopes', 'write:knobs'));
    expect(await status('POST', '/api/optimizer/knobs/apply', knobs.token, APPLY_BODY)).toEqual({ status: 404, code: 'trace_not_found' });
    expect(await status('GET', SNAPSHOT, knobs.token)).toEqual({ status: 403, code: 'forbidden' });
  });

  it('exits non-zero with a message for unknown scopes, no scopes, and a revoke of nothing; creates nothing', async () => {
    const before = t.relay.tokens.count();
    const bad = await tokenCli('create', '--scopes', 'read:everything');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('read:everything');
    expect(bad.stderr).toMatch(/read:snapshots/); // says what would be right
    expect(bad.stdout).not.toMatch(/tw_/);

    const partly = await tokenCli('create', '--scopes', 'read:snapshots,write:everything');
    expect(partly.code).not.toBe(0);
    expect(partly.stderr).toContain('write:everything');

    const empty = await tokenCli('create', '--scopes', ',');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr.trim().length).toBeGreaterThan(0);

    const none = await tokenCli('create');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('--scopes');

    const nothing = await tokenCli('revoke', 'tok_000000000000');
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain('tok_000000000000');

    const unknownCommand = await tokenCli('frobnicate');
    expect(unknownCommand.code).not.toBe(0);
    expect(unknownCommand.stdout + unknownCommand.stderr).toContain('usage');

    const unknownOption = await tokenCli('create', '--scope', 'read:snapshots');
    expect(unknownOption.code).toBe(64);
    expect(unknownOption.stderr).toMatch(/^tapwire: Unknown option '--scope'/);
    expect(unknownOption.stderr).toContain('usage');

    expect(t.relay.tokens.count()).toBe(before);
  });

  it('prints its usage with --help and -h, and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const help = await tokenCli(flag);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage: npm run token -- create --scopes/);
    }
  });
});
