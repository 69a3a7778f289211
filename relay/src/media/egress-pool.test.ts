/**
 * Listener egress end to end through a real MediaPool (a worker thread): Opus packets of a
 * tone go in through a station's handle, and with `setEgress` on, its Opus packets come
 * back on that handle in order (sequence +1, 20 ms timestamp steps), in batches rather than
 * a message each; PRE and POST differ by a gain scheduled on the station; null stops them,
 * a re-enable starts again at sequence 0, and the station's end stops them. With
 * `historyMs`, a start first brings the last second the station played, flagged history.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs, mergeKnobs } from '../../../protocol/knobs.ts';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { encodeAudio, type EncodedAudio } from '../sim/simulator.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';
import { sleep, waitFor } from '../testing/harness.ts';
import type { StationSpec } from './messages.ts';
import { MediaPool } from './pool.ts';
import type { EgressPacket, StationHandle } from './station-handle.ts';
import { decodeEgress } from '../testing/opus-packets.ts';

/** Short buckets, so a scheduled knob change comes soon; a grace longer than a timer's lateness, so the timeline never resyncs. */
const BUCKET_MS = 1000;
const OPTIONS = { bitrate: 32000, complexity: 5 };
let pool: MediaPool | undefined;

const now = (): number => performance.timeOrigin + performance.now();

function spec(): Omit<StationSpec, 'id'> {
  return {
    traceId: 'trace_egress_pool', stationKey: `st_${Math.random().toString(36).slice(2, 8)}`, codec: 'opus', sampleRate: 48000, queueFrames: 48,
    jitterAllowanceMs: 60, bucketMs: BUCKET_MS, graceMs: 500, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1',
  };
}

async function startPool(): Promise<MediaPool> {
  pool = new MediaPool(1, { bucket: (_r, done) => done(), meters: () => undefined, workerFailed: () => undefined });
  await pool.start();
  return pool;
}

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Streams `audio` to each handle in real time (20 ms packets, arrival stamped now) for `ms`, from packet `from`. */
async function stream(handles: StationHandle[], audio: EncodedAudio[], ms: number, from = 0): Promise<number> {
  const start = now();
  let sent = from;
  while (now() - start < ms) {
    const due = from + Math.floor((now() - start) / 20) + 1;
    for (; sent < due; sent++) {
      handles.forEach((h, i) => h.push(sent * 20, sent & 0xffff, CODEC_IDS.opus, 0, now(), audio[i].packets[sent % audio[i].packets.length]));
    }
    await sleep(5);
  }
  return sent;
}

/** Every egress packet a handle emits, per tap. */
function collect(h: StationHandle): { PRE: EgressPacket[]; POST: EgressPacket[] } {
  const got = { PRE: [] as EgressPacket[], POST: [] as EgressPacket[] };
  h.on('egress', (p) => got[p.tap].push(p));
  return got;
}

function expectInOrder(packets: EgressPacket[], firstSequence = 0): void {
  packets.forEach((p, i) => expect(p.sequence).toBe(firstSequence + i));
  for (let i = 1; i < packets.length; i++) expect(packets[i].timestampMs - packets[i - 1].timestampMs).toBe(20);
}

const tone = (dbfs: number): EncodedAudio => encodeAudio(sine(1000, dbfs, 1, 48000), 48000, 'opus');

describe('egress through a MediaPool', () => {
  it('brings each station its own packets, in order, in batches of many per message', async () => {
    await startPool();
    const worker = (pool as unknown as { slots: { worker: Worker }[] }).slots[0].worker;
    let messages = 0;
    worker.on('message', (m: { type: string }) => {
      if (m.type === 'egress') messages++;
    });
    const loud = pool!.addStation(spec());
    const quiet = pool!.addStation(spec());
    const got = [collect(loud), collect(quiet)];
    for (const h of [loud, quiet]) {
      h.setEgress('POST', OPTIONS);
      h.setEgress('PRE', OPTIONS);
      h.setEgress('PRE', OPTIONS); // repeated: the same encoder goes on
    }
    const t0 = now();
    await stream([loud, quiet], [tone(-20), tone(-32)], 1500);
    await loud.sync();
    await waitFor(() => (got[1].POST.length >= 60 ? true : undefined), 5000, 'packets');
    for (const g of got) {
      expect(g.POST.length).toBeGreaterThanOrEqual(60);
      expectInOrder(g.POST);
      expectInOrder(g.PRE);
      for (const p of g.POST) {
        expect(p.arrivalMs).toBeGreaterThanOrEqual(t0);
        expect(p.arrivalMs).toBeLessThanOrEqual(now());
        expect(p.data.length).toBeGreaterThan(10);
      }
    }
    // Each handle hears its own station: the tones are 12 dB apart.
    const level = (ps: EgressPacket[]): number => measureRmsDbfs(decodeEgress(ps), 10 * 960);
    expect(level(got[0].POST) - level(got[1].POST)).toBeCloseTo(12, 0);
    expect(Math.abs(level(got[0].POST) - -23)).toBeLessThan(1.5);
    // One message carries the packets of both stations and both taps made in one turn.
    const packets = got.reduce((n, g) => n + g.PRE.length + g.POST.length, 0);
    expect(packets / messages).toBeGreaterThanOrEqual(2);
  });

  it('PRE and POST differ by the gain scheduled on the station, from the bucket it applies to', async () => {
    await startPool();
    const h = pool!.addStation(spec());
    const got = collect(h);
    h.setEgress('PRE', OPTIONS);
    h.setEgress('POST', OPTIONS);
    const audio = tone(-20);
    const sent = await stream([h], [audio], 200);
    const applyAt = bucketStartMs(now(), BUCKET_MS) + 2 * BUCKET_MS;
    expect(await h.schedule(applyAt, mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': -12 }), 1, 1)).toBeNull();
    await stream([h], [audio], applyAt + 1200 - now(), sent);
    await h.sync();
    await sleep(50);
    const split = (ps: EgressPacket[]): [EgressPacket[], EgressPacket[]] => [ps.filter((p) => p.timestampMs < applyAt), ps.filter((p) => p.timestampMs >= applyAt)];
    const [preBefore, preAfter] = split(got.PRE);
    const [postBefore, postAfter] = split(got.POST);
    expect(postAfter.length).toBeGreaterThanOrEqual(40);
    // Decoded as one stream each, then measured on either side of the change (skipping the encoder's start and the switch).
    const pre = decodeEgress(got.PRE);
    const post = decodeEgress(got.POST);
    const at = (ps: EgressPacket[], before: EgressPacket[]): [number, number] => [before.length * 960 + 5 * 960, (before.length + ps.length) * 960];
    const beforeRange: [number, number] = [10 * 960, preBefore.length * 960];
    expect(Math.abs(measureRmsDbfs(pre, ...beforeRange) - measureRmsDbfs(post, ...beforeRange))).toBeLessThan(0.5);
    expect(measureRmsDbfs(pre, ...at(preAfter, preBefore)) - measureRmsDbfs(post, ...at(postAfter, postBefore))).toBeCloseTo(12, 0);
    expect(got.PRE.map((p) => p.timestampMs)).toEqual(got.POST.map((p) => p.timestampMs));
  });

  it('stops on null, starts again at sequence 0 when re-enabled (even at once), and stops for good at the station\'s end', async () => {
    await startPool();
    const h = pool!.addStation(spec());
    const got = collect(h);
    const audio = tone(-20);
    h.setEgress('POST', OPTIONS);
    let sent = await stream([h], [audio], 600);
    await h.sync();
    h.setEgress('POST', null);
    h.setEgress('POST', null); // safe twice
    const first = got.POST.length;
    expect(first).toBeGreaterThanOrEqual(20);
    expectInOrder(got.POST);
    sent = await stream([h], [audio], 400, sent);
    await h.sync();
    await sleep(50);
    expect(got.POST.length).toBe(first); // nothing while off
    h.setEgress('POST', { bitrate: 24000, complexity: 3 });
    sent = await stream([h], [audio], 600, sent);
    await h.sync();
    const again = got.POST.slice(first);
    expect(again.length).toBeGreaterThanOrEqual(20);
    expectInOrder(again, 0); // a fresh encoder: 0, 1, 2, ...
    expect(again[0].timestampMs - got.POST[first - 1].timestampMs).toBeGreaterThanOrEqual(400);
    // Off and on again in one turn, while packets of the old encoder are on their way: none
    // of them is heard after the restart, which begins at 0.
    const beforeRestart = got.POST.length;
    h.setEgress('POST', null);
    h.setEgress('POST', OPTIONS);
    sent = await stream([h], [audio], 400, sent);
    await h.sync();
    expect(got.POST.length - beforeRestart).toBeGreaterThanOrEqual(10);
    expectInOrder(got.POST.slice(beforeRestart), 0);
    let closed = false;
    h.on('closed', () => (closed = true));
    h.end();
    h.setEgress('PRE', OPTIONS); // no-op once ended
    await waitFor(() => (closed ? true : undefined), 5000, 'closed');
    const total = got.POST.length;
    await stream([h], [audio], 200, sent); // ignored: the handle has ended
    await sleep(50);
    expect(got.POST.length).toBe(total);
    expect(got.PRE).toEqual([]);
  });

  it('with historyMs, a first listener gets the last second at once, history first, then live; a retune none, a restart again', async () => {
    await startPool();
    // 5 s buckets with a 1 s grace (the defaults): the last second is held whenever the station has played it.
    const h = pool!.addStation({ ...spec(), bucketMs: 5000, graceMs: 1000 });
    const got = collect(h);
    const audio = tone(-20);
    let sent = await stream([h], [audio], 2000);
    await h.sync();
    const startedAt = now();
    h.setEgress('POST', { ...OPTIONS, historyMs: 1000 });
    await waitFor(() => (got.POST.length >= 40 ? true : undefined), 1000, 'history packets');
    // A second of audio well within the 1 s a browser may wait (it took no real time to make).
    expect(now() - startedAt).toBeLessThan(500);
    sent = await stream([h], [audio], 400, sent);
    await h.sync();
    const history = got.POST.filter((p) => p.history);
    // 50, or a few fewer if the clock's jitter allowance still held the newest packets.
    expect(history.length).toBeGreaterThanOrEqual(45);
    expect(history.length).toBeLessThanOrEqual(50);
    expect(got.POST.slice(0, history.length).every((p) => p.history)).toBe(true);
    expect(got.POST.length - history.length).toBeGreaterThanOrEqual(10);
    expectInOrder(got.POST); // sequences 0.., 20 ms apart through the seam
    expect(Math.abs(measureRmsDbfs(decodeEgress(got.POST), 5 * 960, (history.length + 10) * 960) - -23)).toBeLessThan(1.5);
    // A retune: no history.
    const before = got.POST.length;
    h.setEgress('POST', { bitrate: 24000, complexity: 3, historyMs: 1000 });
    sent = await stream([h], [audio], 200, sent);
    await h.sync();
    expect(got.POST.slice(before).some((p) => p.history)).toBe(false);
    expectInOrder(got.POST);
    // Off and on again: a fresh encoder, history first again.
    h.setEgress('POST', null);
    const restart = got.POST.length;
    h.setEgress('POST', { ...OPTIONS, historyMs: 400 });
    await stream([h], [audio], 200, sent);
    await h.sync();
    const again = got.POST.slice(restart);
    expectInOrder(again, 0);
    expect(again.filter((p) => p.history).length).toBeGreaterThanOrEqual(15);
    expect(again.findIndex((p) => !p.history)).toBe(again.filter((p) => p.history).length);
  });

  it('refuses bad options and taps on the handle, synchronously, with a RangeError naming the value', async () => {
    await startPool();
    const h = pool!.addStation(spec());
    expect(() => h.setEgress('POST', { bitrate: 2000, complexity: 5 })).toThrow('bitrate must be an integer from 6000 to 510000 bit/s, got 2000');
    expect(() => h.setEgress('POST', { bitrate: 32000, complexity: 10.5 })).toThrow(RangeError);
    expect(() => h.setEgress('MID' as 'PRE', OPTIONS)).toThrow("tap must be 'PRE' or 'POST', got MID");
    expect(() => h.setEgress('POST', { ...OPTIONS, historyMs: 5001 })).toThrow('historyMs must be an integer from 0 to 5000 ms, got 5001');
    expect(() => h.setEgress('POST', { ...OPTIONS, historyMs: -20 })).toThrow(RangeError);
    // A recorded run (an upload) has no listeners: nothing is started.
    const recorded = pool!.addStation({ ...spec(), recorded: { part: 0 } });
    const got = collect(recorded);
    recorded.setEgress('POST', OPTIONS);
    const audio = tone(-20);
    for (let n = 0; n < 20; n++) recorded.push(n * 20, n, CODEC_IDS.opus, 0, now() + n * 20, audio.packets[n]);
    await recorded.sync();
    await sleep(50);
    expect(got.POST).toEqual([]);
  });
});
