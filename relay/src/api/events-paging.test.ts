/** GET /api/optimizer/events pages with after_id and limit, oldest first. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
  const { store } = t.relay;
  store.insertTrace({ trace_id: 'trace_pages', kind: 'live', started_at: 0, ended_at: 1, call_id: null });
  store.insertStation({ trace_id: 'trace_pages', station_key: 'mic', label: null, codec: 'pcm16', sample_rate: 16000, stream_id: 'sid_pages', started_at: 0, ended_at: 1, end_reason: 'stop', client: 'address:127.0.0.1' });
  for (let id = 1; id <= 7; id++) {
    store.insertKnobEvent({
      id,
      trace_id: 'trace_pages',
      station_key: 'mic',
      created_at: id * 1000,
      apply_at_bucket_ts: id * 5000,
      knobs_requested: { 'pcm.input_gain_db': id },
      knobs_effective: { 'pcm.input_gain_db': id },
      source: 'test',
      reason: `step ${id}`,
      config_version: id,
      idempotency_key: `k${id}`,
      request_hash: null,
    });
  }
});
afterAll(async () => {
  await t?.close();
});

async function events(query: string): Promise<{ status: number; ids: number[]; body: unknown }> {
  const res = await fetch(`${t.httpUrl}/api/optimizer/events?trace_id=trace_pages${query}`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } });
  const body = (await res.json()) as { events?: { id: number }[] };
  return { status: res.status, ids: (body.events ?? []).map((e) => e.id), body };
}

describe('knob event paging', () => {
  it('returns everything oldest first by default, then pages with after_id and limit', async () => {
    expect((await events('')).ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await events('&limit=3')).ids).toEqual([1, 2, 3]);
    expect((await events('&after_id=3&limit=3')).ids).toEqual([4, 5, 6]);
    expect((await events('&after_id=6&limit=3')).ids).toEqual([7]);
    expect((await events('&after_id=7')).ids).toEqual([]);
    expect((await events('&station_key=mic&after_id=5')).ids).toEqual([6, 7]);
  });

  it('rejects a bad limit or after_id with 400', async () => {
    for (const q of ['&limit=0', '&limit=1001', '&limit=x', '&after_id=-1']) {
      const r = await events(q);
      expect(r.status, q).toBe(400);
      expect(r.body).toMatchObject({ success: false, error: { code: 'invalid_request' } });
    }
  });
});
