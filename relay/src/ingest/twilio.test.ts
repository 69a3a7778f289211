/**
 * Twilio Media Streams into `/ws/ingest`, unchanged: a recorded Twilio session (the message
 * shapes of Twilio's "Media Streams - WebSocket Messages", a 1 kHz tone at -20 dBFS in µ-law,
 * five inbound media messages lost in transit, the other track, DTMF and a mark in between)
 * replayed at real time into a real relay, and the stored station and buckets measured.
 * Then what a Twilio stream gets for bad input.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import { measureRmsDbfs, sine, toInt16 } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import { encodeMulaw } from '../media/codecs/g711.ts';
import type { BucketRow } from '../store/store.ts';
import { alignToBucket, sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { connectIngest, type IngestClient } from '../testing/ingest-client.ts';
import { TwilioDepacketizer } from './twilio-depacketizer.ts';
import { parseTwilioMessage } from './twilio-messages.ts';

const RATE = 8000;
const FRAME = 160; // 20 ms of µ-law
const TONE_DBFS = -20;
const TONE_RMS_DBFS = TONE_DBFS - 3.0103;
const STREAM_S = 6.4;
const FRAMES = Math.round((STREAM_S * 1000) / 20);
/** Inbound messages 300-304 never arrive: after bucket1, inside the stream's last bucket. */
const LOST = new Set([300, 301, 302, 303, 304]);
const CALL_SID = 'CA5f0c8a2d4e6b1a3c5e7f9b2d4a6c8e0f';
const STREAM_SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';
const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';

interface Session {
  lines: string[];
  inboundSent: number;
}

/** A Twilio session as the JSON lines Twilio sends, `sequenceNumber` counting every message. */
function recordSession(ulaw: Uint8Array): Session {
  const lines: string[] = [];
  let seq = 1;
  const line = (m: object): void => {
    lines.push(JSON.stringify(m));
  };
  line({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  line({
    event: 'start',
    sequenceNumber: String(seq++),
    start: {
      accountSid: ACCOUNT_SID,
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      tracks: ['inbound', 'outbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { label: 'support line' },
    },
    streamSid: STREAM_SID,
  });
  let inboundSent = 0;
  let outboundChunk = 1;
  for (let k = 0; k < FRAMES; k++) {
    const payload = Buffer.from(ulaw.subarray(k * FRAME, (k + 1) * FRAME)).toString('base64');
    const media = { event: 'media', sequenceNumber: String(seq++), media: { track: 'inbound', chunk: String(k + 1), timestamp: String(k * 20), payload }, streamSid: STREAM_SID };
    if (!LOST.has(k)) {
      line(media);
      inboundSent++;
    }
    if (k % 40 === 10) {
      // The other track: silence the relay does not record (it is counted).
      const silence = Buffer.alloc(FRAME, 0xff).toString('base64');
      line({ event: 'media', sequenceNumber: String(seq++), media: { track: 'outbound', chunk: String(outboundChunk++), timestamp: String(k * 20), payload: silence }, streamSid: STREAM_SID });
    }
    if (k === 150) line({ event: 'dtmf', streamSid: STREAM_SID, sequenceNumber: String(seq++), dtmf: { track: 'inbound_track', digit: '5' } });
  }
  line({ event: 'mark', sequenceNumber: String(seq++), streamSid: STREAM_SID, mark: { name: 'greeting-done' } });
  line({ event: 'stop', sequenceNumber: String(seq++), streamSid: STREAM_SID, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } });
  return { lines, inboundSent };
}

/** Replays the lines as Twilio would: each media message at its `timestamp` after the first. */
async function replay(c: IngestClient, lines: string[]): Promise<void> {
  const t0 = performance.now();
  for (const l of lines) {
    const m = JSON.parse(l) as { event: string; media?: { timestamp: string } };
    if (m.media !== undefined) {
      const wait = t0 + Number(m.media.timestamp) - performance.now();
      if (wait > 0) await sleep(wait);
    }
    c.ws.send(l);
  }
}

let t: TestRelay;
let session: Session;
let client: IngestClient;
let bucket1 = 0;
let closeCode = 0;

function segment(row: BucketRow): Float32Array {
  const wav = readWav(readFileSync(t.relay.segments.absolute(row.pre_path as string)));
  expect(wav.sampleRate).toBe(RATE);
  return wav.samples;
}

beforeAll(async () => {
  t = await startTestRelay();
  session = recordSession(encodeMulaw(toInt16(sine(1000, TONE_DBFS, STREAM_S, RATE))));
  // Start 0.8 s before a bucket boundary: bucket1 is covered whole, and the gap lands after it.
  await alignToBucket(4200);
  bucket1 = Math.ceil(Date.now() / 5000) * 5000;
  client = await connectIngest(t.wsUrl);
  await replay(client, session.lines);
  closeCode = (await client.closed).code;
  const started = client.messages.find((m) => m.type === 'started') as Extract<IngestServerMessage, { type: 'started' }>;
  // The stream's last bucket is complete one grace period after its end.
  await waitFor(() => (t.relay.store.getBucket(started.trace_id, started.station_key, bucket1 + 5000) !== undefined ? true : undefined), 15_000, 'the last bucket');
  await waitFor(() => (t.relay.writer.backlog === 0 ? true : undefined), 5000);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('a recorded Twilio Media Stream replayed into /ws/ingest', () => {
  it('opens a pcmu 8000 Hz station named after the call, and ends it on stop', () => {
    const started = client.messages.find((m) => m.type === 'started') as Extract<IngestServerMessage, { type: 'started' }>;
    expect(started).toBeDefined();
    expect(client.messages.filter((m) => m.type === 'error')).toEqual([]);
    const station = t.relay.store.getStation(started.trace_id, started.station_key)!;
    expect(station).toMatchObject({ codec: 'pcmu', sample_rate: 8000, label: 'support line', end_reason: 'stop' });
    expect(station.ended_at).not.toBeNull();
    expect(t.relay.store.getTrace(started.trace_id)!.call_id).toBe(CALL_SID);
    expect(client.messages.at(-1)).toEqual({ type: 'stopped', trace_id: started.trace_id, station_keys: [started.station_key], ignored: { outbound_media: 8, mark: 1, dtmf: 1 } });
    expect(closeCode).toBe(1000);
  });

  it('stores the tone at its level: PRE RMS of a whole bucket within 0.5 dB of -23.01 dBFS', () => {
    const started = client.messages.find((m) => m.type === 'started') as Extract<IngestServerMessage, { type: 'started' }>;
    const row = t.relay.store.getBucket(started.trace_id, started.station_key, bucket1)!;
    expect(row.sample_rate).toBe(RATE);
    const pre = segment(row);
    expect(pre.length).toBe(5 * RATE);
    const measured = measureRmsDbfs(pre);
    console.log(`twilio: bucket1 PRE RMS ${measured.toFixed(3)} dBFS (sent ${TONE_RMS_DBFS.toFixed(3)})`);
    expect(Math.abs(measured - TONE_RMS_DBFS)).toBeLessThan(0.5);
    expect(Math.abs(row.metrics.PRE['pcm.rms_dbfs'].avg - TONE_RMS_DBFS)).toBeLessThan(0.5);
    expect(row.metrics.PRE['pcm.rms_dbfs'].count).toBe(250);
    expect(row.ingest.frames_dropped).toBe(0);
  });

  it('conceals the five lost media messages instead of shifting what follows', () => {
    const started = client.messages.find((m) => m.type === 'started') as Extract<IngestServerMessage, { type: 'started' }>;
    const rows = t.relay.store.listBuckets(started.trace_id);
    const frames = rows.reduce((n, r) => n + r.metrics.PRE['pcm.rms_dbfs'].count, 0);
    // A bucket's ingest counters are the station's totals when the bucket was written.
    const last = rows.at(-1)!;
    console.log(`twilio: ${session.inboundSent} inbound sent, ${last.ingest.frames_received} received, ${last.ingest.frames_concealed} concealed, ${frames} frames stored in ${rows.length} buckets`);
    expect(session.inboundSent).toBe(FRAMES - 5);
    expect(last.ingest).toMatchObject({ frames_received: FRAMES - 5, frames_concealed: 5, frames_dropped: 0, resyncs: 0, frames_out_of_order: 0, decode_errors: 0 });
    // Every 20 ms of the stream is there, the lost ones included: nothing after the gap moved up.
    expect(frames).toBe(FRAMES);
  });
});

describe('Twilio media messages', () => {
  const media = (m: object): string => JSON.stringify({ event: 'media', sequenceNumber: '7', streamSid: STREAM_SID, media: { track: 'inbound', chunk: '5', timestamp: '80', payload: 'f39/fw==', ...m } });

  it('become pcmu packets numbered by chunk and stamped by timestamp', () => {
    const p = parseTwilioMessage(media({}));
    if (!p.ok || p.value.event !== 'media') throw new Error('not parsed');
    const d = new TwilioDepacketizer().depacketize(p.value);
    expect(d).toEqual({ ok: true, packet: { timestampMs: 80, sequence: 5, codec: CODEC_IDS.pcmu, flags: 0, payload: Buffer.from([0x7f, 0x7f, 0x7f, 0x7f]) } });
    const wrapped = new TwilioDepacketizer().depacketize({ event: 'media', track: 'inbound', chunk: 65536 + 3, timestampMs: 2 ** 32 + 40, payload: 'fw==' });
    expect(wrapped).toMatchObject({ ok: true, packet: { sequence: 3, timestampMs: 40 } });
  });

  it('name what is wrong', () => {
    expect(parseTwilioMessage('{"event":')).toMatchObject({ ok: false, code: 'bad_json' });
    expect(parseTwilioMessage(media({ payload: 'not base64!' }))).toMatchObject({ ok: false, code: 'bad_base64', field: 'media.payload' });
    expect(parseTwilioMessage(JSON.stringify({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', payload: 'fw==' } }))).toMatchObject({
      ok: false,
      code: 'bad_message',
      field: 'media.timestamp',
    });
    expect(parseTwilioMessage(media({ timestamp: 80 }))).toMatchObject({ ok: false, code: 'bad_message', field: 'media.timestamp' });
    expect(parseTwilioMessage('{"event":"clear"}')).toMatchObject({ ok: false, code: 'unknown_type', field: 'event' });
    const tooLong = Buffer.alloc(961, 0xff).toString('base64');
    const p = parseTwilioMessage(media({ payload: tooLong }));
    if (!p.ok || p.value.event !== 'media') throw new Error('not parsed');
    expect(new TwilioDepacketizer().depacketize(p.value)).toMatchObject({ ok: false, code: 'frame_too_long' });
  });
});

describe('bad input on a Twilio stream', () => {
  const start = (format: object, start: object = {}): string =>
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid: STREAM_SID,
      start: { accountSid: ACCOUNT_SID, streamSid: STREAM_SID, callSid: CALL_SID, tracks: ['inbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1, ...format }, ...start },
    });

  it('refuses a start with another encoding, rate or no callSid: bad_start naming the field, close 1008', async () => {
    const cases: [string, string][] = [
      [start({ encoding: 'audio/l16' }), 'start.mediaFormat.encoding'],
      [start({ sampleRate: 16000 }), 'start.mediaFormat.sampleRate'],
      [start({}, { callSid: undefined }), 'start.callSid'],
      [start({}, { tracks: ['outbound'] }), 'start.tracks'],
    ];
    for (const [text, field] of cases) {
      const c = await connectIngest(t.wsUrl);
      c.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
      c.ws.send(text);
      const closed = await c.closed;
      expect(closed.code, field).toBe(1008);
      expect(c.messages, field).toEqual([expect.objectContaining({ type: 'error', code: 'bad_start', field })]);
      expect((c.messages[0] as { message: string }).message.length).toBeGreaterThan(20);
    }
  });

  it('reports malformed messages, media before start and oversized payloads, and keeps the stream', async () => {
    const c = await connectIngest(t.wsUrl);
    c.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    c.ws.send(JSON.stringify({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: 'fw==' } }));
    await waitFor(() => c.messages.find((m) => m.type === 'error' && m.code === 'not_started'), 5000, 'not_started');
    c.ws.send(start({}));
    await c.next('started');
    c.ws.send('{"event":"media",');
    c.ws.send(JSON.stringify({ event: 'media', sequenceNumber: '3', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.alloc(4000, 0xff).toString('base64') } }));
    c.ws.send(JSON.stringify({ event: 'media', sequenceNumber: '4', media: { track: 'inbound', chunk: '2', timestamp: '20' } }));
    c.ws.send(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await waitFor(() => (c.messages.filter((m) => m.type === 'error').length >= 5 ? true : undefined), 5000, 'five errors');
    const codes = c.messages.flatMap((m) => (m.type === 'error' ? [m.code] : []));
    expect(codes).toEqual(['not_started', 'bad_json', 'frame_too_long', 'bad_message', 'unexpected_binary']);
    c.ws.send(JSON.stringify({ event: 'stop', sequenceNumber: '5', stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } }));
    expect((await c.closed).code).toBe(1000);
  });

  it('closes an oversized message with 1009, as any ingest message', async () => {
    const c = await connectIngest(t.wsUrl);
    c.ws.send(start({}));
    await c.next('started');
    c.ws.send(JSON.stringify({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.alloc(60_000).toString('base64') } }));
    expect((await c.closed).code).toBe(1009);
    expect(c.messages.at(-1)).toMatchObject({ type: 'error', code: 'message_too_big' });
  });
});
