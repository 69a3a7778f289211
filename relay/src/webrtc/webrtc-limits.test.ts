/**
 * What WHIP and WHEP refuse, and what they let go: bad offers (400 bad_sdp, 415), bad
 * station identity, unknown streams and sessions (404), PATCH (405: no trickle ICE), the
 * session caps (503 relay_busy with Retry-After), the connect timeout, the idle timeout, a
 * station that ends under its WHEP listeners, and a token beyond loopback. Real relays with
 * small limits, werift clients over real UDP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sine, toInt16 } from '../audio/signals.ts';
import { OpusFrameEncoder } from '../media/codecs/opus-encoder.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { clientPeer, gatheredOffer, postSdp, WhepPlayer, WhipPublisher, type SdpExchange } from './webrtc-client.ts';

const CONNECT_TIMEOUT_MS = 1500;
const IDLE_TIMEOUT_MS = 1500;

let t: TestRelay;
let exposed: TestRelay;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [t, exposed] = await Promise.all([
    startTestRelay({ maxWhipSessions: 2, maxWhepSessions: 3, maxWhepSessionsPerStream: 1, webrtcConnectTimeoutMs: CONNECT_TIMEOUT_MS, stationIdleTimeoutMs: IDLE_TIMEOUT_MS }),
    startTestRelay({ host: '0.0.0.0' }),
  ]);
});

afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all([t.close(), exposed.close()]);
});

function track<T extends { close(): Promise<void> }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

/** A werift client's offer: `send` publishes (sendonly), `receive` plays (recvonly). */
async function offer(direction: 'send' | 'receive'): Promise<string> {
  const pc = clientPeer();
  closers.push(() => pc.close().catch(() => undefined));
  pc.addTransceiver('audio', { direction: direction === 'send' ? 'sendonly' : 'recvonly' });
  return gatheredOffer(pc);
}

function expectError(ex: SdpExchange, status: number, code: string, message?: RegExp): void {
  expect(ex.status, ex.text).toBe(status);
  const body = JSON.parse(ex.text) as { success: boolean; error: { code: string; message: string } };
  expect(body.success).toBe(false);
  expect(body.error.code).toBe(code);
  if (message !== undefined) expect(body.error.message).toMatch(message);
}

/** Sends 20 ms packets of a quiet tone until the returned function is called. */
function toneFor(p: WhipPublisher): void {
  const frame = toInt16(sine(1000, -20, 0.02, 48000));
  const enc = new OpusFrameEncoder({ sampleRate: 48000 });
  closers.push(async () => enc.close());
  p.stream(() => enc.encode(frame));
}

describe('bad offers', () => {
  it('refuses what is not an Opus audio offer with 400 bad_sdp, saying what is wrong', async () => {
    const url = `${t.httpUrl}/whip`;
    const good = await offer('send');
    expectError(await postSdp(url, ''), 400, 'bad_sdp', /empty/);
    expectError(await postSdp(url, 'hello'), 400, 'bad_sdp', /must start with "v=0"/);
    expectError(await postSdp(url, good.replace(/m=audio/g, 'm=video')), 400, 'bad_sdp', /no audio m-section/);
    expectError(await postSdp(url, good.replace(/opus\/48000\/2/g, 'PCMU/8000')), 400, 'bad_sdp', /offers no Opus/);
    expectError(await postSdp(url, good.replace(/a=sendonly/g, 'a=recvonly')), 400, 'bad_sdp', /recvonly; it must be sendonly or sendrecv/);
    expectError(await postSdp(url, good.replace(/a=fingerprint:[^\r\n]*\r?\n/g, '')), 400, 'bad_sdp', /no DTLS fingerprint/);
    // WHEP wants the other direction.
    const station = await publishing();
    const streamId = station.exchange!.headers.get('x-tapwire-stream-id')!;
    expectError(await postSdp(`${t.httpUrl}/whep/${streamId}`, good), 400, 'bad_sdp', /sendonly; it must be recvonly or sendrecv/);
    // Nothing was held by the refusals.
    expect(t.relay.webrtc.whipSessionCount).toBe(1);
    await unpublish(t, station);
  });

  it('refuses a body that is not application/sdp with 415, and a bad station identity with 400', async () => {
    const good = await offer('send');
    expectError(await postSdp(`${t.httpUrl}/whip`, good, undefined, 'application/json'), 415, 'unsupported_media_type', /application\/sdp/);
    expectError(await postSdp(`${t.httpUrl}/whip?station_key=has%20space`, good), 400, 'invalid_request', /station_key must match/);
    expectError(await postSdp(`${t.httpUrl}/whip?trace_id=trace_nope`, good), 400, 'invalid_request', /unknown trace "trace_nope"/);
    expectError(await postSdp(`${t.httpUrl}/whip?label=${'x'.repeat(121)}`, good), 400, 'invalid_request', /label must be a string of at most 120/);
  });
});

/** Ends a publisher's session with its DELETE (a closed peer connection alone is noticed only by the idle timeout). */
async function unpublish(relay: TestRelay, p: WhipPublisher): Promise<void> {
  expect((await fetch(`${relay.httpUrl}${p.exchange!.location}`, { method: 'DELETE' })).status).toBe(200);
  await p.close();
}

/** A publisher streaming a tone on `t`, connected. */
async function publishing(query = ''): Promise<WhipPublisher> {
  const p = track(new WhipPublisher());
  const ex = await p.publish(`${t.httpUrl}/whip${query}`);
  expect(ex.status, ex.text).toBe(201);
  toneFor(p);
  return p;
}

describe('unknown streams and sessions, PATCH', () => {
  it('answers 404 for an unknown stream or session, 405 for PATCH on a session', async () => {
    expectError(await postSdp(`${t.httpUrl}/whep/AAAAAAAAAAAAAAAAAAAAAA`, await offer('receive')), 404, 'stream_not_found', /no such stream/);
    const del = await fetch(`${t.httpUrl}/whip/nope`, { method: 'DELETE' });
    expect(del.status).toBe(404);
    expect(((await del.json()) as { error: { code: string } }).error.code).toBe('session_not_found');
    expect((await fetch(`${t.httpUrl}/whep/x/nope`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${t.httpUrl}/whip/nope`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=end-of-candidates' })).status).toBe(404);

    const p = await publishing();
    const patch = await fetch(`${t.httpUrl}${p.exchange!.location}`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=end-of-candidates' });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('DELETE');
    expect(((await patch.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'method_not_allowed', message: expect.stringMatching(/no trickle ICE/) });
    await unpublish(t, p);
  });
});

describe('caps and timeouts', () => {
  it('refuses a WHIP session over the cap with 503, and frees a session that never connects', async () => {
    await waitFor(() => (t.relay.webrtc.whipSessionCount === 0 ? true : undefined), 5000, 'earlier sessions to close');
    // Offers whose sender never connects hold their session until the connect timeout.
    const url = `${t.httpUrl}/whip`;
    const first = await postSdp(url, await offer('send'));
    const second = await postSdp(url, await offer('send'));
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await postSdp(url, await offer('send'));
    expectError(third, 503, 'relay_busy', /2 WHIP sessions, its limit/);
    expect(third.headers.get('retry-after')).toBe('5');
    const before = Date.now();
    await waitFor(() => (t.relay.webrtc.whipSessionCount === 0 ? true : undefined), CONNECT_TIMEOUT_MS + 3000, 'the connect timeout');
    expect(Date.now() - before).toBeGreaterThan(CONNECT_TIMEOUT_MS - 1000);
    // Their reserved stations left with them: nothing was stored, nothing is live.
    expect(t.relay.registry.liveStationCount()).toBe(0);
    const fourth = await postSdp(url, await offer('send'));
    expect(fourth.status).toBe(201);
    expect((await fetch(`${t.httpUrl}${fourth.location}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('refuses a second WHEP listener of a stream (its cap is 1) with 503', async () => {
    const p = await publishing();
    const streamId = p.exchange!.headers.get('x-tapwire-stream-id')!;
    await waitFor(() => t.relay.stats().stations.find((s) => s.transport === 'webrtc'), 5000, 'the station');
    const one = track(new WhepPlayer());
    expect((await one.play(`${t.httpUrl}/whep/${streamId}`)).status).toBe(201);
    const two = track(new WhepPlayer());
    const ex = await two.play(`${t.httpUrl}/whep/${streamId}`);
    expectError(ex, 503, 'relay_busy', /1 WHEP listeners, its limit/);
    expect(ex.headers.get('retry-after')).toBe('5');
    await one.close();
    await unpublish(t, p);
  });

  it('closes a WHEP session whose player went away without its DELETE (no RTCP for the idle timeout)', async () => {
    const p = await publishing('?station_key=player-vanishes');
    const streamId = p.exchange!.headers.get('x-tapwire-stream-id')!;
    await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'player-vanishes'), 5000, 'the station');
    const player = track(new WhepPlayer());
    expect((await player.play(`${t.httpUrl}/whep/${streamId}`)).status).toBe(201);
    await waitFor(() => (player.packets.length > 10 ? true : undefined), 5000, 'RTP');
    // Past the idle timeout while it plays, the session stays: the player's reports keep it.
    await new Promise((r) => setTimeout(r, IDLE_TIMEOUT_MS + 500));
    expect(t.relay.webrtc.whepSessionCount).toBe(1);
    await player.close();
    await waitFor(() => (t.relay.webrtc.whepSessionCount === 0 ? true : undefined), IDLE_TIMEOUT_MS + 3000, 'the WHEP session to close');
    await unpublish(t, p);
  });

  it('ends a WHIP station whose audio stops for the idle timeout', async () => {
    const p = await publishing('?station_key=goes-quiet');
    await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'goes-quiet'), 5000, 'the station');
    p.stopStreaming();
    const stoppedAt = Date.now();
    await waitFor(() => (t.relay.stats().stations.some((s) => s.station_key === 'goes-quiet') ? undefined : true), IDLE_TIMEOUT_MS + 4000, 'the idle timeout');
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
    await waitFor(() => (t.relay.webrtc.whipSessionCount === 0 ? true : undefined), 3000, 'the session to close');
    const traceId = p.exchange!.headers.get('x-tapwire-trace-id')!;
    const station = t.relay.store.getStation(traceId, 'goes-quiet');
    expect(station?.end_reason).toBe('idle');
  });

  it('closes the WHEP sessions of a station that ends', async () => {
    const p = await publishing('?station_key=ends-under-listener');
    const streamId = p.exchange!.headers.get('x-tapwire-stream-id')!;
    await waitFor(() => t.relay.stats().stations.find((s) => s.station_key === 'ends-under-listener'), 5000, 'the station');
    const player = track(new WhepPlayer());
    expect((await player.play(`${t.httpUrl}/whep/${streamId}`)).status).toBe(201);
    await waitFor(() => (player.packets.length > 10 ? true : undefined), 5000, 'RTP');
    expect((await fetch(`${t.httpUrl}${p.exchange!.location}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(() => (t.relay.webrtc.whepSessionCount === 0 ? true : undefined), 3000, 'the WHEP session to close');
    expectError(await postSdp(`${t.httpUrl}/whep/${streamId}`, await offer('receive')), 404, 'stream_not_found');
  });
});

describe('beyond loopback', () => {
  it('wants an ingest token for WHIP, and none for WHEP (the stream id is the capability)', async () => {
    const url = `${exposed.httpUrl}/whip`;
    expectError(await postSdp(url, await offer('send')), 401, 'unauthorized');
    const reader = exposed.relay.tokens.create(['read:snapshots'], 'webrtc.test').token;
    expectError(await postSdp(url, await offer('send'), reader), 403, 'forbidden');
    const ingest = exposed.relay.tokens.create(['ingest'], 'webrtc.test').token;
    const p = track(new WhipPublisher());
    const ex = await p.publish(url, ingest);
    expect(ex.status, ex.text).toBe(201);
    // DELETE needs the token too.
    expect((await fetch(`${exposed.httpUrl}${ex.location}`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${exposed.httpUrl}${ex.location}`, { method: 'DELETE', headers: { authorization: `Bearer ${ingest}` } })).status).toBe(200);
    // WHEP without a token reaches the stream check.
    expectError(await postSdp(`${exposed.httpUrl}/whep/AAAAAAAAAAAAAAAAAAAAAA`, await offer('receive')), 404, 'stream_not_found');
  });
});

describe('relay stop', () => {
  it('closes every WebRTC session at once: the WHIP station ends with relay_stop', async () => {
    const r = await startTestRelay();
    try {
      const p = track(new WhipPublisher());
      const ex = await p.publish(`${r.httpUrl}/whip?station_key=stopping`);
      expect(ex.status, ex.text).toBe(201);
      toneFor(p);
      await waitFor(() => r.relay.stats().stations.find((s) => s.station_key === 'stopping'), 5000, 'the station');
      const player = track(new WhepPlayer());
      expect((await player.play(`${r.httpUrl}/whep/${ex.headers.get('x-tapwire-stream-id')}`)).status).toBe(201);
      const traceId = ex.headers.get('x-tapwire-trace-id')!;
      const store = r.relay.store;
      const stopping = r.relay.stop();
      expect(r.relay.webrtc.whipSessionCount + r.relay.webrtc.whepSessionCount).toBe(0);
      // Read the stored end before the store closes with the relay.
      const endReason = store.getStation(traceId, 'stopping')?.end_reason;
      await stopping;
      expect(endReason).toBe('relay_stop');
      p.stopStreaming();
    } finally {
      await r.close();
    }
  });
});

