/**
 * WHIP and WHEP end to end in Node: a real relay on 127.0.0.1, werift peer connections as
 * the clients over real UDP. A publisher sends a 1 kHz Opus tone at -12 dBFS peak (-15.01
 * dBFS RMS) over WHIP: the station appears, with transport webrtc, and its meters read the
 * tone. A WHEP player receives the station's POST egress as RTP: the packets decode to the
 * same tone, with contiguous sequence numbers and 960 ticks per packet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRmsDbfs, measureToneDbfs, sine, toInt16 } from '../audio/signals.ts';
import { OpusFrameEncoder } from '../media/codecs/opus-encoder.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { decodeOpusPackets } from '../testing/opus-packets.ts';
import { ListenClient } from '../listen/listen-client.ts';
import { CHROMIUM_OPUS_PT, WhepPlayer, WhipPublisher } from './webrtc-client.ts';

const RATE = 48000;
const TONE_HZ = 1000;
const TONE_PEAK_DBFS = -12;
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 10 * Math.log10(2);

/**
 * The tone, encoded as it is sent by one running encoder: 20 ms hold 20 whole cycles of
 * 1 kHz, so every frame's samples are the same. (Replaying a loop of packets would not do:
 * the decoder hears a jump in the encoder's state at each loop.)
 */
function tonePackets(): () => Uint8Array {
  const frame = toInt16(sine(TONE_HZ, TONE_PEAK_DBFS, 0.02, RATE));
  const enc = new OpusFrameEncoder({ sampleRate: RATE, bitrate: 64_000, application: 'audio' });
  closers.push(async () => enc.close());
  return () => enc.encode(frame);
}

let t: TestRelay;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestRelay({ listenEgressLingerMs: 200 });
});

afterAll(async () => {
  for (const c of closers) await c();
  await t.close();
});

async function publisher(query = ''): Promise<WhipPublisher> {
  const p = new WhipPublisher();
  closers.push(() => p.close());
  const ex = await p.publish(`${t.httpUrl}/whip${query}`);
  expect(ex.status, ex.text).toBe(201);
  return p;
}

interface StationMeters {
  PRE: { rms_dbfs: number; peak_dbfs: number };
  POST: { rms_dbfs: number; peak_dbfs: number };
}

async function meters(traceId: string, stationKey: string): Promise<StationMeters | undefined> {
  const r = await fetch(`${t.httpUrl}/measurements?trace_id=${traceId}`);
  const json = (await r.json()) as { stations: Record<string, StationMeters> };
  return json.stations[stationKey];
}

describe('WHIP ingest', () => {
  it('answers an Opus offer with 201, the answer, a Location, and streams the tone into a station', async () => {
    const p = await publisher('?station_key=whip-tone&label=WebRTC%20tone');
    const ex = p.exchange!;
    expect(ex.headers.get('content-type')).toMatch(/^application\/sdp/);
    expect(ex.location).toMatch(/^\/whip\/[A-Za-z0-9_-]{22}$/);
    // The payload type offered (Chromium's 111), with in-band FEC asked for.
    expect(ex.text).toMatch(new RegExp(`a=rtpmap:${CHROMIUM_OPUS_PT} opus/48000/2`, 'i'));
    expect(ex.text).toMatch(new RegExp(`a=fmtp:${CHROMIUM_OPUS_PT} [^\\r\\n]*useinbandfec=1`));
    expect(ex.text).toMatch(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    const traceId = ex.headers.get('x-tapwire-trace-id')!;
    expect(ex.headers.get('x-tapwire-station-key')).toBe('whip-tone');
    expect(ex.headers.get('x-tapwire-stream-id')).toMatch(/^[A-Za-z0-9_-]{22}$/);

    p.stream(tonePackets());
    const station = await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'whip-tone'), 5000, 'the WHIP station');
    expect(station.transport).toBe('webrtc');
    // The meters settle on the tone's level once a publication interval holds only the tone.
    const m = await waitFor(async () => {
      const v = await meters(traceId, 'whip-tone');
      return v !== undefined && Math.abs(v.PRE.rms_dbfs - TONE_RMS_DBFS) < 0.5 ? v : undefined;
    }, 5000, 'meters at the tone level');
    expect(m.PRE.rms_dbfs).toBeCloseTo(TONE_RMS_DBFS, 0);
    expect(m.POST.rms_dbfs).toBeCloseTo(TONE_RMS_DBFS, 0);
    // The pipeline's counters come once a second.
    const stats = await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'whip-tone' && (s.frames_received ?? 0) > 10), 3000, 'counters');
    expect(stats.decode_errors).toBe(0);

    // DELETE ends the session and the station; a second DELETE finds nothing.
    const del = await fetch(`${t.httpUrl}${ex.location}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    await waitFor(() => (t.relay.stats().stations.some((s) => s.station_key === 'whip-tone') ? undefined : true), 5000, 'the station to end');
    const again = await fetch(`${t.httpUrl}${ex.location}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('session_not_found');
    p.stopStreaming();
  });
});

describe('WHEP egress', () => {
  it('plays a WHIP station\'s POST audio as RTP that decodes to the tone', async () => {
    const p = await publisher('?station_key=whep-source');
    p.stream(tonePackets());
    const streamId = p.exchange!.headers.get('x-tapwire-stream-id')!;
    await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'whep-source'), 5000, 'the station');

    const player = new WhepPlayer();
    closers.push(() => player.close());
    const ex = await player.play(`${t.httpUrl}/whep/${streamId}`);
    expect(ex.status, ex.text).toBe(201);
    expect(ex.location).toMatch(new RegExp(`^/whep/${streamId}/[A-Za-z0-9_-]{22}$`));
    expect(ex.text).toMatch(/a=sendonly/);
    await waitFor(() => (player.packets.length >= 100 ? true : undefined), 6000, '2 s of RTP');

    const rtp = player.packets.slice(0, 100);
    for (let i = 1; i < rtp.length; i++) {
      expect((rtp[i].header.sequenceNumber - rtp[i - 1].header.sequenceNumber) & 0xffff).toBe(1);
      expect((rtp[i].header.timestamp - rtp[i - 1].header.timestamp) >>> 0).toBe(960);
    }
    expect(rtp[0].header.payloadType).toBe(CHROMIUM_OPUS_PT);
    const pcm = decodeOpusPackets(rtp.map((r) => r.payload));
    // Past the decoder's start, the tone at its level, and nothing but the tone.
    const from = 20 * 960;
    expect(Math.abs(measureToneDbfs(pcm, TONE_HZ, RATE, from) - TONE_PEAK_DBFS)).toBeLessThan(0.5);
    expect(measureRmsDbfs(pcm, from)).toBeCloseTo(TONE_RMS_DBFS, 0);

    // The last listener leaving stops the egress encoder; DELETE answers 200, then 404.
    const del = await fetch(`${t.httpUrl}${ex.location}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(t.relay.webrtc.whepSessionCount).toBe(0);
    const count = player.packets.length;
    await sleep(300);
    expect(player.packets.length - count).toBeLessThanOrEqual(2);
    expect((await fetch(`${t.httpUrl}${ex.location}`, { method: 'DELETE' })).status).toBe(404);
    p.stopStreaming();
  });
});

describe('WHEP beside /ws/listen (one egress encoder for both)', () => {
  it('keeps playing when the last /ws/listen listener leaves, and keeps /ws/listen fed when the last WHEP session leaves', async () => {
    const p = await publisher('?station_key=shared-egress');
    p.stream(tonePackets());
    const streamId = p.exchange!.headers.get('x-tapwire-stream-id')!;
    await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'shared-egress'), 5000, 'the station');

    const ws = await ListenClient.connect(t.httpUrl, `stream_id=${streamId}&mode=packets`);
    closers.push(async () => ws.terminate());
    await ws.binaryCount(10);
    const player = new WhepPlayer();
    closers.push(() => player.close());
    expect((await player.play(`${t.httpUrl}/whep/${streamId}`)).status).toBe(201);
    await waitFor(() => (player.packets.length >= 25 ? true : undefined), 5000, 'RTP');

    // The listen socket goes: after its linger (200 ms here) the listen service stops the
    // encoder; the WHEP audience notices the silence and starts it again.
    ws.terminate();
    await sleep(1200);
    const before = player.packets.length;
    await sleep(1000);
    expect(player.packets.length - before, 'RTP packets in the second after').toBeGreaterThanOrEqual(45);
    // The RTP stream went on without a sequence gap, its timestamps forward.
    const rtp = player.packets;
    for (let i = 1; i < rtp.length; i++) {
      expect((rtp[i].header.sequenceNumber - rtp[i - 1].header.sequenceNumber) & 0xffff).toBe(1);
      expect(((rtp[i].header.timestamp - rtp[i - 1].header.timestamp) | 0) > 0).toBe(true);
    }
    const pcm = decodeOpusPackets(rtp.slice(-50).map((r) => r.payload));
    expect(Math.abs(measureToneDbfs(pcm, TONE_HZ, RATE, 960 * 10) - TONE_PEAK_DBFS)).toBeLessThan(1);

    // Now the other way round: a /ws/listen listener joins, the WHEP session leaves.
    const ws2 = await ListenClient.connect(t.httpUrl, `stream_id=${streamId}&mode=packets`);
    closers.push(async () => ws2.terminate());
    await ws2.binaryCount(5);
    expect((await fetch(`${t.httpUrl}${player.exchange!.location}`, { method: 'DELETE' })).status).toBe(200);
    const had = ws2.binaries.length;
    await sleep(1000);
    expect(ws2.binaries.length - had, '/ws/listen packets in the second after').toBeGreaterThanOrEqual(45);
    ws2.terminate();
    p.stopStreaming();
  });
});

