/**
 * Listening to a whole call: a trace's `mix_stream_id` (in every station's `started`) names
 * the mix of its stations (media/mixer.ts), listened to on `/ws/listen` like a station. A
 * real relay, real simulated stations streaming Opus tones, real `ws` listeners; the mix's
 * packets are decoded with libopus and each tone is measured in them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamMetadataMessage } from '../../../protocol/listen.ts';
import { measureToneDbfs, sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { ListenClient } from './listen-client.ts';
import { decodeFramedOpus } from '../testing/opus-packets.ts';

const RATE = 48000;
/** 1 s of a tone at -20 dBFS peak: whole cycles, so it loops without a click. */
const tone = (hz: number, rate = RATE) => encodeAudio(sine(hz, -20, 1, rate), rate, 'opus');
const GRACE_MS = 1000;

let t: TestRelay;
const clients: ListenClient[] = [];

async function listen(query: string): Promise<ListenClient> {
  const c = await ListenClient.connect(t.httpUrl, query);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  t = await startTestRelay({ listenGraceMs: GRACE_MS, listenEgressLingerMs: 300 });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.terminate();
  await t?.close();
});

describe('the mix of a trace', () => {
  it('carries every station of the call and none of another, and ends when the call has ended', async () => {
    const first = new SimulatedStation({ url: t.wsUrl, audio: tone(440), durationS: 8, label: 'a' });
    const a = await first.connect();
    // The second station joins the trace at 16 kHz: the mix resamples it.
    const second = new SimulatedStation({ url: t.wsUrl, audio: tone(1500, 16000), durationS: 8, traceId: a.trace_id, label: 'b' });
    const b = await second.connect();
    const other = new SimulatedStation({ url: t.wsUrl, audio: tone(3000), durationS: 8, label: 'elsewhere' });
    const o = await other.connect();
    expect(b.mix_stream_id).toBe(a.mix_stream_id);
    expect(o.mix_stream_id).not.toBe(a.mix_stream_id);
    expect(a.mix_stream_id).not.toBe(a.stream_id);
    const streaming = runStations([first, second, other]);

    const c = await listen(`stream_id=${a.mix_stream_id}&mode=packets`);
    const meta = (await c.nextText('stream_metadata')) as StreamMetadataMessage;
    expect(meta).toMatchObject({ trace_id: a.trace_id, station_key: null, container: 'none', mode: 'packets', tap: 'POST' });
    const packets = await c.binaryCount(150, 15_000);
    // Skip the first second (stations joining the mix), then measure each tone.
    const audio = decodeFramedOpus(packets.slice(0, 150));
    const from = 50 * 960;
    expect(Math.abs(measureToneDbfs(audio, 440, RATE, from) - -20)).toBeLessThan(1);
    expect(Math.abs(measureToneDbfs(audio, 1500, RATE, from) - -20)).toBeLessThan(1);
    expect(measureToneDbfs(audio, 3000, RATE, from)).toBeLessThan(-50);

    // Every station of the call stops; once the trace has left, the mix's listeners hear stream_end.
    await streaming;
    const end = await c.nextText('stream_end', 20_000);
    expect(end).toEqual({ type: 'stream_end', reason: 'every station of the call has ended' });
    expect((await c.closed).code).toBe(1000);

    // Within the grace the id answers stream_end; after it, 4404 like an id never issued.
    const late = await listen(`stream_id=${a.mix_stream_id}`);
    expect((await late.closed).code).toBe(1000);
    expect(late.texts.map((m) => m.type)).toEqual(['stream_metadata', 'stream_end']);
    await waitFor(async () => {
      const probe = await listen(`stream_id=${a.mix_stream_id}`);
      const closed = await probe.closed;
      return closed.code === 4404 ? true : undefined;
    }, GRACE_MS + 5000, 'the mix id to expire');
  }, 60_000);
});
