/**
 * The media pool and the handles it gives out, on a real worker thread: a station's events
 * reach the handle its owner holds (status, decode errors, closed with final counters),
 * the counters of closed live stations are summed in one place, and a worker's death
 * reaches every handle on it as `lost` and ends what was waiting.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { waitFor } from '../testing/harness.ts';
import type { BucketRecord, IngestCounters, StationSpec } from './messages.ts';
import { MediaPool } from './pool.ts';

const RATE = 8000;
let pool: MediaPool;
let buckets: BucketRecord[] = [];
let failed: number[] = [];

function spec(over: Partial<Omit<StationSpec, 'id'>> = {}): Omit<StationSpec, 'id'> {
  return {
    traceId: 'trace_pool', stationKey: `st_${Math.random().toString(36).slice(2, 8)}`, codec: 'pcm16', sampleRate: RATE, queueFrames: 48, jitterAllowanceMs: 60,
    bucketMs: 5000, graceMs: 0, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1', ...over,
  };
}

const pcm = (value: number): Uint8Array => new Uint8Array(new Int16Array(160).fill(value).buffer);

async function startPool(): Promise<MediaPool> {
  buckets = [];
  failed = [];
  pool = new MediaPool(1, {
    bucket: (r, done) => {
      buckets.push(r);
      done();
    },
    meters: () => undefined,
    workerFailed: (handles) => failed.push(handles.length),
  });
  await pool.start();
  return pool;
}

afterEach(async () => {
  await pool?.close();
});

describe('MediaPool and StationHandle', () => {
  it('tells the owner through its handle: decode errors, then closed with the final counters, once', async () => {
    await startPool();
    const h = pool.addStation(spec());
    const errors: string[] = [];
    const closed: IngestCounters[] = [];
    h.on('decodeError', (code) => errors.push(code));
    h.on('closed', (c) => closed.push(c));
    const now = performance.timeOrigin + performance.now();
    for (let n = 0; n < 10; n++) h.push(n * 20, n, CODEC_IDS.pcm16, 0, now + n * 20, pcm(100));
    h.push(200, 10, CODEC_IDS.pcm16, 0, now + 200, new Uint8Array(3)); // not whole samples
    expect(await h.sync()).toBe(true);
    h.end();
    h.end(); // safe twice
    await pool.flush();
    await waitFor(() => (closed.length > 0 ? true : undefined), 5000, 'closed');
    expect(errors).toEqual(['bad_payload_length']);
    expect(closed).toEqual([expect.objectContaining({ frames_received: 11, decode_errors: 1 })]);
    expect(h.gone).toBe(true);
    expect(await h.sync()).toBe(false);
    expect(buckets.reduce((n, b) => n + b.metrics.PRE['pcm.rms_dbfs'].count, 0)).toBe(10);
  });

  it('sums the counters of closed live stations, not those of recorded runs', async () => {
    await startPool();
    const now = performance.timeOrigin + performance.now();
    const live = pool.addStation(spec());
    const recorded = pool.addStation(spec({ recorded: { part: 0 } }));
    for (const h of [live, recorded]) {
      h.push(0, 0, CODEC_IDS.pcm16, 0, now, pcm(1));
      h.push(40, 2, CODEC_IDS.pcm16, 0, now + 40, pcm(1)); // one packet lost: concealed
      h.end();
    }
    await pool.flush();
    await waitFor(() => (live.gone && recorded.gone ? true : undefined), 5000, 'both closed');
    expect(pool.closedTotals.frames_concealed).toBe(1);
  });

  it('reaches every handle of a worker that dies with lost, and ends what was waiting', async () => {
    await startPool();
    const handles = [pool.addStation(spec()), pool.addStation(spec())];
    const lost: string[] = [];
    for (const h of handles) h.on('lost', (err) => lost.push(err.message));
    // The worker dies as a crash would take it (no close from the pool).
    const worker = (pool as unknown as { slots: { worker: Worker }[] }).slots[0].worker;
    const pending = handles[0].sync();
    await worker.terminate();
    await waitFor(() => (lost.length === 2 ? true : undefined), 5000, 'lost on both handles');
    expect(lost[0]).toMatch(/exited/);
    expect(failed).toEqual([2]);
    await expect(pending).rejects.toThrow(/exited/);
    expect(handles.every((h) => h.gone)).toBe(true);
    expect(await handles[1].schedule(0, defaultKnobs(), 1, 1)).toBe('unknown_station');
  });

  it('keeps a listener\'s exception from the others and from the pool', async () => {
    await startPool();
    const h = pool.addStation(spec());
    const seen: string[] = [];
    const warnings: string[] = [];
    const onWarning = (w: Error): number => warnings.push(w.message);
    process.on('warning', onWarning);
    h.on('closed', () => {
      throw new Error('a careless owner');
    });
    h.on('closed', () => seen.push('second'));
    h.push(0, 0, CODEC_IDS.pcm16, 0, performance.timeOrigin + performance.now(), pcm(1));
    h.end();
    await pool.flush();
    await waitFor(() => (seen.length === 1 ? true : undefined), 5000, 'the second listener');
    await waitFor(() => (warnings.some((m) => m.includes('a careless owner')) ? true : undefined), 2000, 'the warning');
    process.off('warning', onWarning);
  });
});
