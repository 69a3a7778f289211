/**
 * An upload across a relay restart: the packets stored before the stop are there after it
 * (the restart's clean-up of open traces leaves recorded ones alone), a part is processed by
 * the new process, and a retention sweep in between removes nothing an upload still needs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, type RelayConfig } from '../config.ts';
import { Relay } from '../relay.ts';
import { chunkOf, createBody, opusTone, uploadClient } from '../testing/upload-client.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-upload-restart-'));
const config: RelayConfig = { ...defaultConfig(), port: 0, dataDir, logLevel: 'silent', mediaWorkers: 1, snapshotMinIntervalMs: 0 };
const running: Relay[] = [];

afterAll(async () => {
  for (const r of running) await r.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<{ relay: Relay; up: ReturnType<typeof uploadClient> }> {
  const relay = await Relay.start(config);
  running.push(relay);
  return { relay, up: uploadClient(relay.url, relay.adminToken) };
}

describe('uploads across a relay restart', () => {
  it('keeps stored packets and processes a part in the next process', async () => {
    const b = bucketStartMs(Date.now() - 90_000, 5000);
    const packets = opusTone(1000, -12, 4);
    const first = await start();
    expect((await first.up.create('restart', createBody(b + 1000))).status).toBe(201);
    expect((await first.up.chunk('restart', 0, chunkOf(packets.slice(0, 50), 0))).json).toMatchObject({ accepted: 50 });
    expect((await first.up.part('restart', 0, 50)).status).toBe(200);
    expect((await first.up.chunk('restart', 50, chunkOf(packets.slice(50), 50))).json).toMatchObject({ accepted: 150 });
    const before = (await first.up.state('restart')).json;
    // A second upload with packets but no part yet: its trace is not ended by the restart.
    const pending = await first.up.create('restart-pending', createBody(b + 1000));
    expect((await first.up.chunk('restart-pending', 0, chunkOf(packets.slice(0, 10), 0))).status).toBe(200);
    await first.relay.stop();
    running.pop();

    const second = await start();
    const after = await second.up.state('restart');
    expect(after.status).toBe(200);
    expect(after.json).toEqual(before);
    const trace = (await second.up.get(`/api/traces/${before.trace_id}`)).json.trace;
    expect(trace).toMatchObject({ kind: 'recorded', ended_at: new Date(b + 2000).toISOString() });
    expect(trace.stations[0].end_reason).toBe('uploaded');

    const open = (await second.up.get(`/api/traces/${pending.json.trace_id}`)).json.trace;
    expect(open).toMatchObject({ kind: 'recorded', ended_at: null });
    expect(open.stations[0]).toMatchObject({ ended_at: null, end_reason: null });
    expect((await second.up.state('restart-pending')).json).toMatchObject({ packets_received: 10, end_index: 10 });

    await second.relay.writer.exclusive(() => second.relay.segments.sweep(Date.now()));
    const part = await second.up.part('restart', 50, 200);
    expect(part.status, JSON.stringify(part.json)).toBe(200);
    expect(part.json.parts).toEqual([
      { first_index: 0, end_index: 50, frames: 50, bucket_ts: [new Date(b).toISOString()] },
      { first_index: 50, end_index: 200, frames: 150, bucket_ts: [new Date(b).toISOString()] },
    ]);
    const row = second.relay.store.getBucket(before.trace_id, before.station_key, b)!;
    expect(row.metrics.PRE['pcm.rms_dbfs'].count).toBe(200);
    expect([row.sample_start, row.samples]).toEqual([48 * 1000, 48 * 5000]);
  });
});
