/**
 * A sender's call id (seed 000 §5.1 `call_id`): given in `start`, it names the trace in
 * `/api/traces/active` and the trace's details; a station joining a trace without one
 * gives it its own; a malformed one is a bad start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { connectIngest, PCM16_START } from '../testing/ingest-client.ts';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(async () => {
  await t?.close();
});

const frame = (seq: number): Uint8Array => encodeFrame({ timestampMs: seq * 20, sequence: seq, codec: CODEC_IDS.pcm16, flags: 0 }, new Uint8Array(1920));
const api = async (path: string): Promise<any> => (await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } })).json();

describe('call_id', () => {
  it('names the trace from the start that made it', async () => {
    const c = await connectIngest(t.wsUrl);
    c.ws.send(JSON.stringify({ ...PCM16_START, call_id: 'a84b4c76e66710@pc33.atlanta.example.com' }));
    const s = (await c.next('started')) as Extract<IngestServerMessage, { type: 'started' }>;
    c.ws.send(frame(0));
    const active = await waitFor(async () => ((await api('/api/traces/active')).active as { trace_id: string; call_id: string | null }[]).find((a) => a.trace_id === s.trace_id), 5000, 'the trace');
    expect(active.call_id).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect((await api(`/api/traces/${s.trace_id}`)).trace.call_id).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    c.ws.close();
  });

  it('is given to a trace that has none by a station joining it', async () => {
    const a = await connectIngest(t.wsUrl);
    a.ws.send(JSON.stringify(PCM16_START));
    const s = (await a.next('started')) as Extract<IngestServerMessage, { type: 'started' }>;
    a.ws.send(frame(0));
    await waitFor(async () => ((await api(`/api/traces/${s.trace_id}`)).trace ? true : undefined), 5000, 'the trace stored');
    const b = await connectIngest(t.wsUrl);
    b.ws.send(JSON.stringify({ ...PCM16_START, trace_id: s.trace_id, call_id: 'CA1234' }));
    await b.next('started');
    expect((await api(`/api/traces/${s.trace_id}`)).trace.call_id).toBe('CA1234');
    a.ws.close();
    b.ws.close();
  });

  it('refuses one with spaces or too long, naming the field', async () => {
    for (const callId of ['has spaces', 'x'.repeat(257), '']) {
      const c = await connectIngest(t.wsUrl);
      c.ws.send(JSON.stringify({ ...PCM16_START, call_id: callId }));
      expect((await c.closed).code).toBe(1008);
      expect(c.messages[0]).toMatchObject({ type: 'error', code: 'bad_start', field: 'call_id' });
    }
  });
});
