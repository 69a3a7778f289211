/**
 * A trace's mix end to end through a real MediaPool (worker threads), in real time: two
 * stations of one trace (48 kHz Opus and 16 kHz PCM, different tones) land on the same
 * worker of two, and the mix's packets hold both tones and not the tone of another trace's
 * station; setEgress null stops it and a re-enable starts again at sequence 0; egress asked
 * for before the trace has a station starts with its first, survives it leaving, and its
 * next station goes to the mix's worker; a mix whose worker died starts afresh with the
 * trace's next station; a recorded run of the trace is never mixed; close() forgets the
 * handle.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import { measureToneDbfs, sine } from '../audio/signals.ts';
import { encodeAudio, type EncodedAudio } from '../sim/simulator.ts';
import { sleep, waitFor } from '../testing/harness.ts';
import type { StationSpec } from './messages.ts';
import { MediaPool } from './pool.ts';
import type { EgressPacket, StationHandle } from './station-handle.ts';
import type { TraceMixHandle } from './trace-mix-handle.ts';
import { decodeEgress } from '../testing/opus-packets.ts';

const OPTIONS = { bitrate: 32000, complexity: 5 };
let pool: MediaPool | undefined;

const now = (): number => performance.timeOrigin + performance.now();

function spec(traceId: string, sampleRate = 48000, codec: StationSpec['codec'] = 'opus'): Omit<StationSpec, 'id'> {
  return {
    traceId, stationKey: `st_${Math.random().toString(36).slice(2, 8)}`, codec, sampleRate, queueFrames: 48,
    jitterAllowanceMs: 60, bucketMs: 1000, graceMs: 500, knobs: defaultKnobs(), configVersion: 0, lastKnobEventId: null, client: 'address:127.0.0.1',
  };
}

async function startPool(size: number): Promise<MediaPool> {
  pool = new MediaPool(size, { bucket: (_r, done) => done(), meters: () => undefined, workerFailed: () => undefined });
  await pool.start();
  return pool;
}

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** The worker a station runs on (the pool's own bookkeeping). */
function workerOf(h: StationHandle): number | undefined {
  return (pool as unknown as { stationSlot: Map<number, { index: number }> }).stationSlot.get(h.id)?.index;
}

type Feed = [StationHandle, EncodedAudio];

/** Streams each feed's audio (looped) in real time, 20 ms packets stamped on arrival, for `ms`, from packet `from`. */
async function stream(feeds: Feed[], ms: number, from = 0): Promise<number> {
  const start = now();
  let sent = from;
  while (now() - start < ms) {
    const due = from + Math.floor((now() - start) / 20) + 1;
    for (; sent < due; sent++) {
      for (const [h, audio] of feeds) h.push(sent * 20, sent & 0xffff, CODEC_IDS[audio.codec], 0, now(), audio.packets[sent % audio.packets.length]);
    }
    await sleep(5);
  }
  return sent;
}

function collect(mix: TraceMixHandle): EgressPacket[] {
  const got: EgressPacket[] = [];
  mix.on('egress', (p) => {
    expect(p.tap).toBe('POST');
    got.push(p);
  });
  return got;
}

/** Level of the `hz` component of x[from..), dB re a full-scale sine. */
const toneDb = (x: Float32Array, hz: number, from: number): number => measureToneDbfs(x, hz, 48000, from);

function expectInOrder(packets: EgressPacket[], firstSequence = 0): void {
  packets.forEach((p, i) => expect(p.sequence).toBe(firstSequence + i));
  for (let i = 1; i < packets.length; i++) expect(packets[i].timestampMs - packets[i - 1].timestampMs).toBe(20);
}

const opusTone = (hz: number, dbfs: number): EncodedAudio => encodeAudio(sine(hz, dbfs, 1, 48000), 48000, 'opus');
const pcm16kTone = (hz: number, dbfs: number): EncodedAudio => encodeAudio(sine(hz, dbfs, 1, 16000), 16000, 'pcm16');

describe('trace mix through a MediaPool', () => {
  it("puts a trace's stations on one worker and mixes both of them, not another trace's station", async () => {
    await startPool(2);
    const a = pool!.addStation(spec('trace_mix'));
    const other = pool!.addStation(spec('trace_other'));
    const b = pool!.addStation(spec('trace_mix', 16000, 'pcm16'));
    expect(workerOf(b)).toBe(workerOf(a));
    expect(workerOf(other)).not.toBe(workerOf(a));
    const mix = pool!.mixOf('trace_mix');
    expect(pool!.mixOf('trace_mix')).toBe(mix);
    expect(pool!.mixOf('trace_other')).not.toBe(mix);
    const got = collect(mix);
    mix.setEgress('POST', OPTIONS);
    mix.setEgress('POST', OPTIONS); // repeated: the same encoder goes on
    await stream([[a, opusTone(440, -20)], [b, pcm16kTone(1500, -26)], [other, opusTone(1000, -20)]], 1500);
    await a.sync();
    await waitFor(() => (got.length >= 60 ? true : undefined), 5000, 'mix packets');
    expectInOrder(got);
    for (const p of got) expect(p.data.length).toBeGreaterThan(10);
    const audio = decodeEgress(got);
    const from = 10 * 960; // past both stations' start
    expect(Math.abs(toneDb(audio, 440, from) - -20)).toBeLessThan(1);
    expect(Math.abs(toneDb(audio, 1500, from) - -26)).toBeLessThan(1);
    expect(toneDb(audio, 1000, from)).toBeLessThan(-50);
  });

  it('stops on null, starts again at sequence 0, and close() stops it and forgets the handle', async () => {
    await startPool(2);
    const a = pool!.addStation(spec('trace_mix'));
    const b = pool!.addStation(spec('trace_mix', 16000, 'pcm16'));
    const feeds: Feed[] = [[a, opusTone(440, -20)], [b, pcm16kTone(1500, -26)]];
    const mix = pool!.mixOf('trace_mix');
    const got = collect(mix);
    expect(() => mix.setEgress('MID' as 'PRE', OPTIONS)).toThrow("tap must be 'PRE' or 'POST', got MID");
    expect(() => mix.setEgress('POST', { bitrate: 2000, complexity: 5 })).toThrow(RangeError);
    expect(() => pool!.mixOf('')).toThrow(TypeError);
    mix.setEgress('POST', OPTIONS);
    let sent = await stream(feeds, 500);
    await a.sync();
    await sleep(30);
    mix.setEgress('POST', null);
    mix.setEgress('POST', null); // safe twice
    const first = got.length;
    expect(first).toBeGreaterThanOrEqual(15);
    expectInOrder(got);
    sent = await stream(feeds, 300, sent);
    await a.sync();
    await sleep(50);
    expect(got.length).toBe(first); // nothing while off
    mix.setEgress('POST', { bitrate: 24000, complexity: 3 });
    sent = await stream(feeds, 500, sent);
    await a.sync();
    await sleep(30);
    const again = got.slice(first);
    expect(again.length).toBeGreaterThanOrEqual(15);
    expectInOrder(again, 0); // a fresh encoder: 0, 1, 2, ...
    expect(again[0].timestampMs - got[first - 1].timestampMs).toBeGreaterThanOrEqual(300);
    mix.close();
    mix.close(); // safe twice
    const total = got.length;
    mix.setEgress('POST', OPTIONS); // ignored once closed
    await stream(feeds, 200, sent);
    await a.sync();
    await sleep(50);
    expect(got.length).toBe(total);
    expect(pool!.mixOf('trace_mix')).not.toBe(mix);
  });

  it("starts with the trace's first station when asked before it, sends nothing without stations, and the next station goes to the mix's worker", async () => {
    await startPool(2);
    const filler = pool!.addStation(spec('trace_filler')); // worker 0
    const mix = pool!.mixOf('trace_mix');
    const got = collect(mix);
    mix.setEgress('POST', OPTIONS); // no station yet
    const a = pool!.addStation(spec('trace_mix')); // the least loaded: worker 1, and the mix with it
    expect(workerOf(a)).not.toBe(workerOf(filler));
    let sent = await stream([[a, opusTone(440, -20)], [filler, opusTone(1000, -20)]], 500);
    await a.sync();
    await waitFor(() => (got.length >= 15 ? true : undefined), 3000, 'mix packets');
    let closed = false;
    a.on('closed', () => (closed = true));
    a.end();
    await waitFor(() => (closed ? true : undefined), 5000, 'station closed');
    const before = got.length;
    expectInOrder(got);
    sent = await stream([[filler, opusTone(1000, -20)]], 300, sent);
    await filler.sync();
    expect(got.length).toBe(before); // a mix without stations sends nothing
    // Another trace takes the empty worker (the mix's). Both now run one station: by load the
    // next would go to the first worker, but the trace's mix is on the other.
    const busy = pool!.addStation(spec('trace_busy'));
    expect(workerOf(busy)).not.toBe(workerOf(filler));
    const a2 = pool!.addStation(spec('trace_mix', 16000, 'pcm16'));
    expect(workerOf(a2)).toBe(workerOf(busy));
    await stream([[a2, pcm16kTone(1500, -20)], [filler, opusTone(1000, -20)]], 600, sent);
    await a2.sync();
    await waitFor(() => (got.length >= before + 15 ? true : undefined), 3000, 'mix packets again');
    // The same encoder goes on: the sequence continues, the timestamps jump over the silence.
    got.slice(before).forEach((p, i) => expect(p.sequence).toBe(before + i));
    expect(got[before].timestampMs - got[before - 1].timestampMs).toBeGreaterThanOrEqual(300);
    const audio = decodeEgress(got.slice(before + 5));
    expect(Math.abs(toneDb(audio, 1500, 0) - -20)).toBeLessThan(1);
    expect(toneDb(audio, 1000, 0)).toBeLessThan(-50);
  });

  it("starts afresh, from sequence 0, with the trace's next station on another worker when its worker dies", async () => {
    await startPool(2);
    const a = pool!.addStation(spec('trace_mix'));
    const mix = pool!.mixOf('trace_mix');
    const got = collect(mix);
    mix.setEgress('POST', OPTIONS);
    let sent = await stream([[a, opusTone(440, -20)]], 400);
    await a.sync();
    await waitFor(() => (got.length >= 10 ? true : undefined), 3000, 'mix packets');
    let lost = false;
    a.on('lost', () => (lost = true));
    const dying = workerOf(a) as number;
    await (pool as unknown as { slots: { worker: Worker }[] }).slots[dying].worker.terminate();
    await waitFor(() => (lost ? true : undefined), 5000, 'station lost');
    const before = got.length;
    const a2 = pool!.addStation(spec('trace_mix'));
    expect(workerOf(a2)).toBe(1 - dying);
    sent = await stream([[a2, opusTone(440, -20)]], 400, sent);
    await a2.sync();
    await waitFor(() => (got.length >= before + 10 ? true : undefined), 3000, 'mix packets again');
    expectInOrder(got.slice(before), 0);
    expect(pool!.mixOf('trace_mix')).toBe(mix);
  });

  it('never mixes a recorded run of the trace, even on the same worker', async () => {
    await startPool(1);
    const a = pool!.addStation(spec('trace_mix'));
    const recorded = pool!.addStation({ ...spec('trace_mix'), recorded: { part: 0 } });
    const mix = pool!.mixOf('trace_mix');
    const got = collect(mix);
    mix.setEgress('POST', OPTIONS);
    await stream([[a, opusTone(440, -20)], [recorded, opusTone(3000, -20)]], 800);
    await a.sync();
    await waitFor(() => (got.length >= 30 ? true : undefined), 3000, 'mix packets');
    const audio = decodeEgress(got);
    expect(Math.abs(toneDb(audio, 440, 10 * 960) - -20)).toBeLessThan(1);
    expect(toneDb(audio, 3000, 10 * 960)).toBeLessThan(-50);
  });
});
