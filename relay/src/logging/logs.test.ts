/**
 * What a misbehaving client costs the log: a sender ahead of real time gets one warning per
 * station every 10 s with the station's ids (seed 001, "Observability"), and a stream of
 * connections sending invalid UTF-8 gets counted warnings, never error-level stack traces.
 * A real relay process with JSON logs on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep } from '../testing/harness.ts';
import { startRelayProcess, type RelayProcess } from '../testing/relay-process.ts';

let relay: RelayProcess;
let base = '';
let dataDir = '';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

const lines = (): LogLine[] =>
  relay
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tapwire-logs-'));
  relay = startRelayProcess({ env: { ...process.env, TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_LOG_LEVEL: 'info', TAPWIRE_MEDIA_WORKERS: '1' } });
  base = await relay.ready;
}, 60_000);

afterAll(async () => {
  relay?.child.kill('SIGTERM');
  await relay?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the log under misbehaving clients', () => {
  it('warns once, with the station\'s ids, about a sender ahead of real time', async () => {
    const fast = new SimulatedStation({ url: `${base.replace('http', 'ws')}/ws/ingest`, audio: encodeAudio(sine(440, -20, 2, 16000), 16000, 'pcm16'), speed: 4, durationS: 12 });
    const s = await fast.connect();
    await runStations([fast]);
    expect(fast.statusMessages().some((m) => m.state === 'backpressure')).toBe(true);
    await sleep(300);
    const warnings = lines().filter((l) => l.msg.startsWith('ingress queue full'));
    // About 3 s of dropping: the first warning, and none of the following ones within 10 s.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, trace_id: s.trace_id, station_key: s.station_key, dropped_frames: expect.any(Number) });
  });

  it('counts invalid UTF-8 text frames as warnings, rate-limited, with no error-level stack trace', async () => {
    const url = `${base.replace('http', 'ws')}/ws/ingest`;
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const ws = new WebSocket(url);
      await new Promise((r) => ws.once('open', r));
      ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      codes.push(await new Promise<number>((r) => ws.once('close', (code) => r(code))));
    }
    expect(codes.every((c) => c === 1007)).toBe(true);
    await sleep(300);
    const peer = lines().filter((l) => l.msg.startsWith('websocket closed on a peer error'));
    expect(peer).toHaveLength(1);
    expect(peer[0]).toMatchObject({ level: 40, code: 'WS_ERR_INVALID_UTF8' });
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
    // The relay is well: a new station streams.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
