/**
 * TAPWIRE_LOG_FORMAT: a real relay process writes readable lines with `pretty` and JSON
 * lines with `json` (and with `auto` when stdout is a pipe), a bad value stops it with exit
 * code 78, and no token reaches a log line, whether it came in a header, a query string or
 * a field a caller passed by mistake.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sleep } from '../testing/harness.ts';
import { startRelayProcess, type RelayProcess } from '../testing/relay-process.ts';
import { relayLoggerOptions, resolveLogFormat } from './log-options.ts';
import { runCommand } from '../testing/relay-command.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A relay process with this log format; stopped by the caller. */
async function relayWith(format: string): Promise<{ relay: RelayProcess; base: string; adminToken: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-logfmt-'));
  dirs.push(dataDir);
  const relay = startRelayProcess({ env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_LOG_LEVEL: 'info', TAPWIRE_LOG_FORMAT: format, TAPWIRE_MEDIA_WORKERS: '1' } });
  const base = await relay.ready;
  return { relay, base, adminToken: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() };
}

/** Sends the token in a header and in a query string, and makes the relay log a warning with fields. */
async function exercise(base: string, token: string): Promise<void> {
  expect((await fetch(`${base}/api/traces/active`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  expect((await fetch(`${base}/api/traces/active?token=${token}`)).status).toBe(401);
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/ingest?token=${token}`);
  await new Promise((r) => ws.once('open', r));
  ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }); // invalid UTF-8: a warning
  expect(await new Promise<number>((r) => ws.once('close', (code) => r(code)))).toBe(1007);
  await sleep(300);
}

async function stop(relay: RelayProcess): Promise<string> {
  relay.child.kill('SIGTERM');
  expect(await relay.exited).toBe(0);
  return relay.output();
}

/** The lines the logger wrote: everything but the banner (`Tapwire is running`, the sign-in link). */
function logLines(output: string): string[] {
  return output.split('\n').filter((l) => l.trim() !== '' && !/^\s+(Tapwire is running|Sign in)/.test(l));
}

describe('TAPWIRE_LOG_FORMAT', () => {
  it('pretty: one readable line per entry (time, level, message, fields), no JSON, no token', async () => {
    const { relay, base, adminToken } = await relayWith('pretty');
    await exercise(base, adminToken);
    const lines = logLines(await stop(relay));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of lines) expect(l).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|FATAL|DEBUG|TRACE): \S/);
    expect(lines.join('\n')).not.toContain('{"level"');
    expect(lines.join('\n')).not.toMatch(/\x1b\[/); // no colours into a pipe
    expect(lines.some((l) => /^\[[\d:.]+\] INFO: Tapwire relay listening on http:\/\//.test(l))).toBe(true);
    // The fields stay on the entry's line.
    expect(lines.find((l) => l.includes('websocket closed on a peer error'))).toMatch(/^\[[\d:.]+\] WARN: websocket closed on a peer error: .* \{.*"code":"WS_ERR_INVALID_UTF8".*\}$/);
    expect(lines.join('\n')).not.toContain(adminToken);
  });

  it.each(['json', 'auto'])('%s into a pipe: every line JSON with level and msg, no token', async (format) => {
    const { relay, base, adminToken } = await relayWith(format);
    await exercise(base, adminToken);
    const lines = logLines(await stop(relay));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const entries = lines.map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown });
    for (const e of entries) {
      expect(e.level).toEqual(expect.any(Number));
      expect(e.msg).toEqual(expect.any(String));
    }
    expect(entries.find((e) => e.msg.startsWith('websocket closed on a peer error'))).toMatchObject({ level: 40, code: 'WS_ERR_INVALID_UTF8' });
    expect(lines.join('\n')).not.toContain(adminToken);
  });

  it('a value that is not a format stops the relay with one line and exit code 78', async () => {
    const { code, stderr } = await runCommand('relay/bin/relay.ts', [], { TAPWIRE_PORT: '0', TAPWIRE_LOG_FORMAT: 'colour' });
    expect(code).toBe(78);
    expect(stderr.trim()).toBe('tapwire: logFormat (TAPWIRE_LOG_FORMAT) must be one of auto, pretty, json, got "colour"');
  });
});

describe('relayLoggerOptions', () => {
  it('auto is pretty on a terminal and JSON elsewhere; pretty and json are what they say', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
    expect(relayLoggerOptions({ logLevel: 'silent', logFormat: 'pretty' })).toBe(false);
  });

  it('redacts token fields and logs request URLs without their query string (fastify, real requests)', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const options = relayLoggerOptions({ logLevel: 'info', logFormat: 'json' }, { isTTY: false });
    if (options === false || options === true) throw new Error('expected logger options');
    const app = Fastify({ logger: { ...options, stream: sink } });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    await app.ready();
    app.log.info({ token: 'tw_field_secret', headers: { authorization: 'Bearer tw_header_secret' } }, 'a careless line');
    const res = await fetchInject(app, '/boom?token=tw_query_secret');
    expect(res).toBe(500);
    await app.close();
    expect(out).toContain('a careless line');
    expect(out).toContain('[redacted]');
    expect(out).toContain('"url":"/boom"'); // the 500 is logged with its request, minus the query
    expect(out).not.toMatch(/tw_(field|header|query)_secret/);
  });
});

/** A real request through a listening socket (the relay never uses inject()). */
async function fetchInject(app: ReturnType<typeof Fastify>, path: string): Promise<number> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return (await fetch(`${address}${path}`)).status;
}
