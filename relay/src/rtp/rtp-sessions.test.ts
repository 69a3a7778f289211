/**
 * RTP ingest sessions on a real relay, over real UDP: opening by JSON and by SDP offer, bad
 * requests, auth, the caps and timeouts, DELETE and BYE, the source lock, and the RTCP
 * receiver reports the relay sends (checked field by field against what the test sent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureToneDbfs, mulberry32, sine, toInt16 } from '../audio/signals.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeMulaw } from '../media/codecs/g711.ts';
import { G722Encoder } from '../media/codecs/g722.ts';
import { ImpairmentModel } from '../testing/impairment/impairment-model.ts';
import { UdpImpairmentProxy } from '../testing/impairment/udp-impairment-proxy.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { dlsrFromMs, ntpFromMs, ntpMiddle32 } from './ntp-time.ts';
import { parseCompound, serializeCompound } from './rtcp-compound.ts';
import { Goodbye, ReceiverReport, SenderReport, SourceDescription } from './rtcp-packet.ts';
import { http, rtp, stationAudio, TestSocket, type Received } from './rtp-test-kit.ts';

/** A port range of its own, away from the default one other relays in the suite use. */
const PORT_BASE = 41000 + 2 * Math.floor(Math.random() * 4000);

let t: TestRelay;
let admin = '';
const token = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'rtp-sessions.test').token;
const open = (body: unknown, tok: string | null = admin, contentType?: string, query = ''): ReturnType<typeof http> =>
  http(t.httpUrl, tok, 'POST', `/api/rtp/sessions${query}`, body, contentType);

function expectError(res: Awaited<ReturnType<typeof http>>, status: number, code: string, message?: RegExp): void {
  expect(res.status, res.text).toBe(status);
  expect(res.json).toEqual({ success: false, error: { code, message: expect.any(String) } });
  if (message !== undefined) expect(res.json.error.message).toMatch(message);
}

const isRtcp = (r: Received): boolean => r.data.length >= 8 && (r.data[1] === 200 || r.data[1] === 201);

beforeAll(async () => {
  t = await startTestRelay({
    rtpPortMin: PORT_BASE,
    rtpPortMax: PORT_BASE + 39,
    rtcpMinIntervalMs: 1000,
    rtpStartTimeoutMs: 1500,
    rtpIdleTimeoutMs: 1500,
  });
  admin = t.relay.adminToken as string;
  // The G.722 stream runs beside the other tests: its last bucket is written a grace period
  // after the bucket's end, and is checked last.
  g722 = streamG722();
  g722.catch(() => undefined);
}, 20_000);

afterAll(async () => {
  await t?.close();
});

describe('opening a session', () => {
  it('JSON: 201 with an even RTP port bound in the range, RTCP on the next, the station and a Location', async () => {
    const res = await open({ codec: 'pcmu', label: 'desk phone', call_id: 'abc@pbx' }, token('ingest'));
    expect(res.status, res.text).toBe(201);
    const s = res.json;
    expect(s).toMatchObject({ success: true, state: 'waiting', host: '127.0.0.1', codec: 'pcmu', payload_type: 0, clock_rate: 8000, sample_rate: 8000, ssrc: null, source: null, close_reason: null });
    expect(s.port % 2).toBe(0);
    expect(s.port).toBeGreaterThanOrEqual(PORT_BASE);
    expect(s.port).toBeLessThan(PORT_BASE + 40);
    expect(s.rtcp_port).toBe(s.port + 1);
    expect(res.headers.get('location')).toBe(`/api/rtp/sessions/${s.session_id}`);
    for (const k of ['trace_id', 'station_key', 'stream_id', 'mix_stream_id']) expect(typeof s[k]).toBe('string');
    // The ports are the session's: binding them here fails.
    await expect(TestSocket.bind(s.port)).rejects.toThrow(/EADDRINUSE/);
    await expect(TestSocket.bind(s.rtcp_port)).rejects.toThrow(/EADDRINUSE/);
    const list = await http(t.httpUrl, admin, 'GET', '/api/rtp/sessions');
    expect(list.json.sessions.map((x: { session_id: string }) => x.session_id)).toContain(s.session_id);
    expect((await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`)).status).toBe(200);
    // Freed: the port binds now.
    (await TestSocket.bind(s.port)).close();
  });

  it('SDP offer: the first format it takes, answered in SDP (recvonly, our ports), call id from a=call-id', async () => {
    const offer = [
      'v=0',
      'o=- 4858 1 IN IP4 127.0.0.1',
      's=Front desk',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'a=call-id:7f3a-01@pbx.example',
      'm=audio 5004 RTP/AVP 18 111 0',
      'a=rtpmap:18 G729/8000',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=ptime:20',
      'a=sendonly',
      '',
    ].join('\r\n');
    const res = await open(offer, admin, 'application/sdp', '?station_key=frontdesk');
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
    const location = res.headers.get('location') as string;
    expect(location).toMatch(/^\/api\/rtp\/sessions\/rtp_/);
    const s = (await http(t.httpUrl, admin, 'GET', location)).json;
    expect(s).toMatchObject({ codec: 'opus', payload_type: 111, clock_rate: 48000, sample_rate: 48000, ptime_ms: 20, station_key: 'frontdesk' });
    const lines = res.text.split('\r\n');
    expect(lines).toContain(`m=audio ${s.port} RTP/AVP 111`);
    expect(lines).toContain('a=rtpmap:111 opus/48000/2');
    expect(lines).toContain('a=fmtp:111 minptime=10;useinbandfec=1');
    expect(lines).toContain('a=ptime:20');
    expect(lines).toContain(`a=rtcp:${s.rtcp_port}`);
    expect(lines).toContain('a=recvonly');
    expect(lines).toContain('c=IN IP4 127.0.0.1');
    // Label and call id reach the trace once audio arrives.
    const sender = await TestSocket.bind();
    await sender.send(rtp(1, 0, 42, 111, new Uint8Array([0xf8, 0xff, 0xfe])), s.port);
    await waitFor(() => t.relay.store.getStation(s.trace_id, 'frontdesk'), 5000, 'the station row');
    expect(t.relay.store.getStation(s.trace_id, 'frontdesk')).toMatchObject({ label: 'Front desk', codec: 'opus', sample_rate: 48000 });
    expect(t.relay.store.getTrace(s.trace_id)?.call_id).toBe('7f3a-01@pbx.example');
    sender.close();
    await http(t.httpUrl, admin, 'DELETE', location);
  });

  it('SDP with only static payload types: G722 9 at its 8000 Hz RTP clock, a 16 kHz station', async () => {
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 9 0\r\n';
    const res = await open(offer);
    expect(res.status, res.text).toBe(201);
    expect(res.text).toContain('a=rtpmap:9 G722/8000');
    const s = (await http(t.httpUrl, admin, 'GET', res.headers.get('location') as string)).json;
    expect(s).toMatchObject({ codec: 'g722', payload_type: 9, clock_rate: 8000, sample_rate: 16000, ptime_ms: null });
    await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`);
  });
});

describe('bad requests', () => {
  it.each([
    ['an unknown codec', { codec: 'g729' }, /codec/],
    ['no codec', { label: 'x' }, /codec/],
    ['an unknown field', { codec: 'pcmu', port: 5004 }, /additional|port/],
    ['pcmu as payload type 8', { codec: 'pcmu', payload_type: 8 }, /^payload_type: pcmu is payload type 0/],
    ['opus on a static payload type', { codec: 'opus', payload_type: 0 }, /^payload_type: opus takes a dynamic payload type, 96 to 127/],
    ['g722 at a 16000 Hz RTP clock', { codec: 'g722', clock_rate: 16000 }, /^clock_rate: g722's RTP clock is 8000 Hz, got 16000 \(G\.722 codes 16 kHz audio/],
    ['stereo pcma', { codec: 'pcma', channels: 2 }, /^channels: pcma over RTP is 1/],
    ['a bad station key', { codec: 'pcmu', station_key: 'no spaces' }, /station_key/],
    ['an unknown trace', { codec: 'pcmu', trace_id: 'trace_nothere' }, /^trace_id: unknown trace "trace_nothere"/],
  ])('%s: 400 invalid_request naming the field', async (_what, body, message) => {
    expectError(await open(body), 400, 'invalid_request', message);
  });

  it.each([
    ['not SDP', 'hello', /starts with "v=0"/],
    ['no audio', 'v=0\r\ns=-\r\nm=video 5000 RTP/AVP 96\r\n', /no "m=audio/],
    ['SRTP', 'v=0\r\ns=-\r\nm=audio 5000 RTP/SAVP 0\r\n', /RTP\/SAVP; the relay takes plain RTP\/AVP/],
    ['recvonly', 'v=0\r\ns=-\r\nm=audio 5000 RTP/AVP 0\r\na=recvonly\r\n', /recvonly; the relay only receives/],
    ['only G.729', 'v=0\r\ns=-\r\nm=audio 5000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n', /none of the offered formats \(18 G729\/8000\) is one the relay takes/],
  ])('SDP %s: 400 invalid_request saying why', async (_what, sdp, message) => {
    expectError(await open(sdp), 400, 'invalid_request', message);
  });

  it('another content type: 415', async () => {
    expectError(await open('codec=pcmu', admin, 'text/plain'), 415, 'unsupported_media_type');
  });

  it('DELETE or GET of an unknown session: 404 rtp_session_not_found', async () => {
    expectError(await http(t.httpUrl, admin, 'DELETE', '/api/rtp/sessions/rtp_nothere'), 404, 'rtp_session_not_found', /rtp_nothere/);
    expectError(await http(t.httpUrl, admin, 'GET', '/api/rtp/sessions/rtp_nothere'), 404, 'rtp_session_not_found');
  });
});

describe('access', () => {
  it('needs a token with the ingest scope, loopback included: 401 without, 403 with another scope', async () => {
    expectError(await open({ codec: 'pcmu' }, null), 401, 'unauthorized');
    expectError(await open({ codec: 'pcmu' }, 'tw_unknown'), 401, 'unauthorized');
    const reader = token('read:snapshots', 'read:audio');
    expectError(await open({ codec: 'pcmu' }, reader), 403, 'forbidden');
    expectError(await http(t.httpUrl, reader, 'GET', '/api/rtp/sessions'), 403, 'forbidden');
    expectError(await http(t.httpUrl, reader, 'DELETE', '/api/rtp/sessions/rtp_x'), 403, 'forbidden');
    expectError(await http(t.httpUrl, null, 'GET', '/api/rtp/sessions'), 401, 'unauthorized');
  });

  it('on a relay exposed beyond loopback: the same refusals; ports on the wildcard address, the answer naming the host asked', async () => {
    const ex = await startTestRelay({ host: '0.0.0.0', rtpPortMin: PORT_BASE + 130, rtpPortMax: PORT_BASE + 139 });
    try {
      const url = `http://127.0.0.1:${new URL(ex.httpUrl).port}`;
      const tok = (...scopes: Scope[]): string => ex.relay.tokens.create(scopes, 'exposed').token;
      expectError(await http(url, null, 'POST', '/api/rtp/sessions', { codec: 'pcmu' }), 401, 'unauthorized');
      expectError(await http(url, tok('read:snapshots'), 'POST', '/api/rtp/sessions', { codec: 'pcmu' }), 403, 'forbidden');
      const res = await http(url, tok('ingest'), 'POST', '/api/rtp/sessions', { codec: 'pcmu' });
      expect(res.status, res.text).toBe(201);
      expect(res.json.host).toBe('127.0.0.1');
      const sender = await TestSocket.bind();
      await sender.send(rtp(1, 0, 3, 0, new Uint8Array(160).fill(0xff)), res.json.port);
      await waitFor(() => ex.relay.rtp.list()[0]?.ssrc ?? undefined, 3000, 'the packet');
      sender.close();
    } finally {
      await ex.close();
    }
  });

  it('declares its access on every route', () => {
    const rtpRoutes = t.relay.routes.filter((r) => r.url.startsWith('/api/rtp/') && r.method !== 'HEAD');
    expect(rtpRoutes.map((r) => `${r.method} ${r.url}`).sort()).toEqual(['DELETE /api/rtp/sessions/:session_id', 'GET /api/rtp/sessions', 'GET /api/rtp/sessions/:session_id', 'POST /api/rtp/sessions']);
    for (const r of rtpRoutes) expect(r.access).toEqual({ kind: 'token', scope: 'ingest' });
  });
});

describe('caps and timeouts', () => {
  it('refuses a session over TAPWIRE_MAX_RTP_SESSIONS (503 rtp_sessions_full) and over the port range (503 rtp_ports_exhausted)', async () => {
    const capped = await startTestRelay({ rtpPortMin: PORT_BASE + 100, rtpPortMax: PORT_BASE + 103, maxRtpSessions: 3 });
    try {
      const adm = capped.relay.adminToken as string;
      const post = (): ReturnType<typeof http> => http(capped.httpUrl, adm, 'POST', '/api/rtp/sessions', { codec: 'pcma' });
      const a = await post();
      const b = await post();
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(new Set([a.json.port, b.json.port])).toEqual(new Set([PORT_BASE + 100, PORT_BASE + 102]));
      const full = await post();
      expectError(full, 503, 'rtp_ports_exhausted', new RegExp(`${PORT_BASE + 100}-${PORT_BASE + 103} \\(TAPWIRE_RTP_PORTS\\)`));
      expect(full.headers.get('retry-after')).toBe('10');
      // A port taken by someone else is skipped, not an error: the pair freed here is found.
      expect((await http(capped.httpUrl, adm, 'DELETE', `/api/rtp/sessions/${a.json.session_id}`)).status).toBe(200);
      const c = await post();
      expect(c.status).toBe(201);
      expect(c.json.port).toBe(a.json.port);
      await capped.relay.stop();
    } finally {
      await capped.close();
    }
    const few = await startTestRelay({ rtpPortMin: PORT_BASE + 110, rtpPortMax: PORT_BASE + 119, maxRtpSessions: 1 });
    try {
      const adm = few.relay.adminToken as string;
      expect((await http(few.httpUrl, adm, 'POST', '/api/rtp/sessions', { codec: 'pcma' })).status).toBe(201);
      expectError(await http(few.httpUrl, adm, 'POST', '/api/rtp/sessions', { codec: 'pcma' }), 503, 'rtp_sessions_full', /1 RTP sessions open.*TAPWIRE_MAX_RTP_SESSIONS/);
    } finally {
      await few.close();
    }
  });

  it('closes a session that receives nothing within the start timeout, and frees its ports', async () => {
    const s = (await open({ codec: 'pcmu' })).json;
    await sleep(1000);
    expect((await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).status).toBe(200);
    await waitFor(async () => ((await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).status === 404 ? true : undefined), 3000, 'the start timeout');
    (await TestSocket.bind(s.port)).close();
    (await TestSocket.bind(s.rtcp_port)).close();
  });

  it('closes a session whose sender goes quiet for the idle timeout; its station ends "idle"', async () => {
    const s = (await open({ codec: 'pcmu' })).json;
    const [sender, senderRtcp] = await TestSocket.pair();
    const payload = encodeMulaw(toInt16(sine(440, -20, 0.02, 8000)));
    for (let i = 0; i < 10; i++) {
      await sender.send(rtp(100 + i, 1000 + 160 * i, 7, 0, payload), s.port);
      await sleep(20);
    }
    const quietFrom = Date.now();
    await waitFor(() => (t.relay.store.getStation(s.trace_id, s.station_key)?.end_reason === 'idle' ? true : undefined), 6000, 'idle end');
    expect(Date.now() - quietFrom).toBeGreaterThanOrEqual(1400);
    expectError(await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`), 404, 'rtp_session_not_found');
    // Our BYE went to the sender's RTCP port (RTP port + 1, no RTCP heard from it).
    const bye = await senderRtcp.next((r) => parseCompound(r.data).some((p) => p instanceof Goodbye));
    expect(parseCompound(bye.data).map((p) => p.packetType)).toEqual([201, 202, 203]);
    sender.close();
    senderRtcp.close();
  });
});

describe('a sender streaming', () => {
  const SSRC = 0x5eed1234;
  let s: any;
  let sender: TestSocket;
  let senderRtcp: TestSocket;
  let srSentMs = 0;
  let srNtp = { hi: 0, lo: 0 };
  const FIRST_TS = 0xfffff000; // wraps within the stream
  const LOST = new Set([7, 8]);
  const COUNT = 60;

  beforeAll(async () => {
    s = (await open({ codec: 'pcmu', station_key: 'streamer' })).json;
    [sender, senderRtcp] = await TestSocket.pair();
    const payload = encodeMulaw(toInt16(sine(1000, -12, 0.02, 8000)));
    const stranger = await TestSocket.bind();
    const started = Date.now();
    for (let i = 0; i < COUNT; i++) {
      const ts = FIRST_TS + 160 * i;
      if (!LOST.has(i)) await sender.send(rtp(65530 + i, ts, SSRC, 0, payload), s.port);
      if (i === 20) {
        // Noise the session must count and survive.
        await sender.send(new Uint8Array([1, 2, 3]), s.port);
        await sender.send(new Uint8Array(40).fill(0x40), s.port); // version 1
        await sender.send(rtp(9999, ts, SSRC + 1, 0, payload), s.port);
        await sender.send(rtp(65530 + i, ts, SSRC, 8, payload), s.port);
        await stranger.send(rtp(65530 + i, ts, SSRC, 0, payload), s.port);
        await sender.send(rtp(65530 + i, ts, SSRC, 0, new Uint8Array(961).fill(0xff)), s.port); // 120.125 ms
      }
      if (i === 30) {
        // A sender report from the sender's RTCP port: 1 s of media after the first packet.
        srSentMs = Date.now();
        srNtp = ntpFromMs(srSentMs);
        const sr = new SenderReport(SSRC, srNtp.hi, srNtp.lo, (FIRST_TS + 8000) >>> 0, i, i * 160);
        await senderRtcp.send(serializeCompound([sr, SourceDescription.withCname(SSRC, 'sender@test')]), s.rtcp_port);
      }
      await sleep(Math.max(0, started + 20 * (i + 1) - Date.now()));
    }
    stranger.close();
  }, 20_000);

  afterAll(() => {
    sender?.close();
    senderRtcp?.close();
  });

  it('counts what is not its stream and keeps going', async () => {
    const info = (await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).json;
    expect(info).toMatchObject({ state: 'receiving', ssrc: SSRC, source: `127.0.0.1:${sender.port}` });
    expect(info.stats).toMatchObject({
      packets_received: COUNT - LOST.size,
      bytes_received: (COUNT - LOST.size) * 160,
      malformed: 2,
      foreign_ssrc: 1,
      wrong_payload_type: 1,
      foreign_source: 1,
      bad_sequence: 0,
      too_long: 1,
      packets_lost: LOST.size,
      extended_highest_seq: 65536 + ((65530 + COUNT - 1) % 65536),
      rtcp_received: 1,
      rtcp_malformed: 0,
    });
  });

  it('keeps the sender\'s NTP/RTP clock pair from its SR: the media origin is 1 s before the report', async () => {
    const c = (await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).json.stats.sender_clock;
    expect(c).toMatchObject({ reports: 1, rtp_timestamp: (FIRST_TS + 8000) >>> 0, drift_ppm: null });
    expect(Math.abs(Date.parse(c.ntp_time) - srSentMs)).toBeLessThanOrEqual(1);
    expect(Math.abs(c.clock_offset_ms)).toBeLessThan(50);
    expect(Math.abs(Date.parse(c.media_origin) - (srSentMs - 1000))).toBeLessThanOrEqual(1);
  });

  it('sends receiver reports to the port the SR came from: loss, highest sequence, jitter, LSR and DLSR as RFC 3550 §6.4 says', async () => {
    // Reports after the SR; the first RR (0.2-0.6 s in) may precede it.
    const got = await senderRtcp.next((r) => isRtcp(r) && r.atMs > srSentMs + 50, 4000);
    const compound = parseCompound(got.data);
    expect(compound.map((p) => p.packetType).slice(0, 2)).toEqual([201, 202]);
    const rr = compound[0] as ReceiverReport;
    const sdes = compound[1] as SourceDescription;
    expect(sdes.cname(rr.ssrc)).toBe(`tapwire-${s.session_id}@127.0.0.1`);
    expect(rr.reports).toHaveLength(1);
    const b = rr.reports[0];
    expect(b.ssrc).toBe(SSRC);
    expect(b.cumulativeLost).toBe(LOST.size);
    expect(b.extendedHighestSeq).toBeGreaterThanOrEqual(65536);
    expect(b.lsr).toBe(ntpMiddle32(srNtp.hi, srNtp.lo));
    // DLSR: the time from the SR's arrival to the report's sending, in 1/65536 s.
    const expectedDlsr = dlsrFromMs(got.atMs - srSentMs);
    expect(Math.abs(b.dlsr - expectedDlsr)).toBeLessThan(dlsrFromMs(30));
    // 20 ms pacing on loopback: jitter of a few ms at most (8 ticks a ms).
    expect(b.jitter).toBeLessThan(8 * 8);
    // Fraction lost is per interval: the first report counts the two losses, later ones none.
    const reports = senderRtcp.received.filter(isRtcp).map((r) => (parseCompound(r.data)[0] as ReceiverReport).reports[0]);
    const fractions = reports.map((x) => x.fractionLost);
    expect(fractions[0]).toBe(Math.floor((2 * 256) / (reports[0].extendedHighestSeq - 65531 + 1)));
    expect(fractions.slice(1).every((f) => f === 0)).toBe(true);
    // Nothing went to the sender's RTP port.
    expect(sender.received).toHaveLength(0);
  });

  it('ends the station on the sender\'s BYE, and sends no BYE back', async () => {
    const before = senderRtcp.received.length;
    const rr = new ReceiverReport(SSRC);
    await senderRtcp.send(serializeCompound([rr, SourceDescription.withCname(SSRC, 'sender@test'), new Goodbye([SSRC], 'hanging up')]), s.rtcp_port);
    await waitFor(() => (t.relay.store.getStation(s.trace_id, 'streamer')?.end_reason === 'bye' ? true : undefined), 3000, 'the BYE');
    expectError(await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`), 404, 'rtp_session_not_found');
    await sleep(200);
    expect(senderRtcp.received.slice(before).some((r) => parseCompound(r.data).some((p) => p instanceof Goodbye))).toBe(false);
  });
});

describe('garbage', () => {
  it('counts 400 random datagrams on each port, and the session goes on', async () => {
    const s = (await open({ codec: 'pcmu' })).json;
    const sender = await TestSocket.bind();
    const rand = mulberry32(7);
    const payload = new Uint8Array(160).fill(0xff);
    await sender.send(rtp(1, 0, 77, 0, payload), s.port); // lock the source first
    for (let i = 0; i < 400; i++) {
      const d = new Uint8Array(1 + Math.floor(rand() * 200)).map(() => Math.floor(rand() * 256));
      // Half of them with RTP's version bits and a valid-looking RTCP packet type, to get past the first checks.
      if (i % 2 === 0) {
        d[0] = 0x80 | (d[0] & 0x3f);
        if (d.length > 1) d[1] = 200 + (i % 5);
      }
      await sender.send(d, s.port);
      await sender.send(d, s.rtcp_port);
      // The stream goes on between them (garbage does not count as hearing from the sender).
      if (i % 50 === 49) await sender.send(rtp(2 + (i - 49) / 50, 160 * (1 + (i - 49) / 50), 77, 0, payload), s.port);
      // Paced: the relay runs in this process, and a burst would overflow the socket's receive buffer.
      if (i % 10 === 9) await sleep(2);
    }
    const stats = await waitFor(async () => {
      const res = await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`);
      if (res.status !== 200) throw new Error(`the session is gone: ${res.text} ${JSON.stringify(t.relay.store.getStation(s.trace_id, s.station_key))}`);
      const st = res.json.stats;
      const rtpSeen = st.packets_received + st.malformed + st.foreign_ssrc + st.wrong_payload_type + st.bad_sequence + st.too_long;
      return rtpSeen === 409 && st.rtcp_received + st.rtcp_malformed === 400 ? st : undefined;
    }, 5000, 'every datagram counted');
    console.log(`garbage: RTP ${JSON.stringify({ malformed: stats.malformed, foreign_ssrc: stats.foreign_ssrc, wrong_payload_type: stats.wrong_payload_type })}, RTCP malformed ${stats.rtcp_malformed}`);
    expect(stats.malformed).toBeGreaterThan(100);
    expect(stats.rtcp_malformed).toBeGreaterThan(300);
    expect(stats.packets_received).toBeGreaterThanOrEqual(9);
    expect((await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`)).status).toBe(200);
    sender.close();
  });
});

describe('relay stop', () => {
  it('sends each sender our BYE, ends its station "relay_stop" and frees the ports', async () => {
    const r = await startTestRelay({ rtpPortMin: PORT_BASE + 120, rtpPortMax: PORT_BASE + 129 });
    try {
      const s = (await http(r.httpUrl, r.relay.adminToken as string, 'POST', '/api/rtp/sessions', { codec: 'pcmu' })).json;
      const [sender, senderRtcp] = await TestSocket.pair();
      for (let i = 0; i < 5; i++) await sender.send(rtp(i, 160 * i, 5, 0, new Uint8Array(160).fill(0xff)), s.port);
      await waitFor(() => r.relay.store.getStation(s.trace_id, s.station_key), 3000, 'the station');
      let endReason: string | undefined;
      r.relay.registry.on('ended', (_station, reason) => (endReason = reason));
      await r.relay.stop();
      expect(endReason).toBe('relay_stop');
      const bye = await senderRtcp.next((x) => parseCompound(x.data).some((p) => p instanceof Goodbye), 2000);
      expect(parseCompound(bye.data).map((p) => p.packetType)).toEqual([201, 202, 203]);
      (await TestSocket.bind(s.port)).close();
      sender.close();
      senderRtcp.close();
    } finally {
      await r.close();
    }
  });
});

describe('through a lossy path (the seeded UDP impairment proxy)', () => {
  it('counts as lost exactly the packets the path dropped, between the first counted and the last received', async () => {
    const s = (await open({ codec: 'pcmu' })).json;
    const forward = { lossPercent: 10, seed: 11 };
    const proxy = await UdpImpairmentProxy.start({ targetPort: s.port, forward });
    // The same seed draws the same decisions: which packets the proxy drops.
    const model = new ImpairmentModel(forward);
    const COUNT = 150;
    const dropped = Array.from({ length: COUNT }, (_, i) => model.decide(i).copies === 0);
    const sender = await TestSocket.bind();
    const payload = new Uint8Array(160).fill(0xff);
    for (let i = 0; i < COUNT; i++) {
      await sender.send(rtp(i, 160 * i, 0xabc, 0, payload), proxy.port);
      if (i % 10 === 9) await sleep(5);
    }
    const received = dropped.map((d, i) => (d ? -1 : i)).filter((i) => i >= 0);
    await waitFor(async () => ((await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).json.stats.packets_received === received.length ? true : undefined), 3000, 'every packet');
    const stats = (await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${s.session_id}`)).json.stats;
    expect(proxy.stats().forward.dropped).toBe(COUNT - received.length);
    // A.1: the second packet in sequence ends probation and is the base; losses count from there to the highest.
    const base = received.find((i, k) => k > 0 && received[k - 1] === i - 1) as number;
    const last = received.at(-1) as number;
    const lostBetween = dropped.filter((d, i) => d && i > base && i < last).length;
    console.log(`lossy path: ${COUNT - received.length} of ${COUNT} dropped by the proxy; the session counts ${stats.packets_lost} lost`);
    expect(lostBetween).toBeGreaterThan(5);
    expect(stats.packets_lost).toBe(lostBetween);
    expect(stats.extended_highest_seq).toBe(last);
    await proxy.close();
    sender.close();
    await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`);
  });
});

describe('DELETE', () => {
  it('sends our BYE after a last report, ends the station "deleted", answers the final state', async () => {
    const s = (await open({ codec: 'pcma' })).json;
    const [sender, senderRtcp] = await TestSocket.pair();
    for (let i = 0; i < 5; i++) await sender.send(rtp(i, 160 * i, 99, 8, new Uint8Array(160).fill(0xd5)), s.port);
    await waitFor(() => t.relay.store.getStation(s.trace_id, s.station_key), 3000, 'the station');
    const res = await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ success: true, session_id: s.session_id, state: 'closed', close_reason: 'deleted', ssrc: 99 });
    expect(res.json.stats.packets_received).toBe(5);
    const bye = await senderRtcp.next((r) => parseCompound(r.data).some((p) => p instanceof Goodbye), 2000);
    const packets = parseCompound(bye.data);
    expect(packets.map((p) => p.packetType)).toEqual([201, 202, 203]);
    expect((packets[0] as ReceiverReport).reports[0]).toMatchObject({ ssrc: 99, cumulativeLost: 0, extendedHighestSeq: 4 });
    expect((packets[2] as Goodbye).ssrcs).toEqual([(packets[0] as ReceiverReport).ssrc]);
    await waitFor(() => (t.relay.store.getStation(s.trace_id, s.station_key)?.end_reason === 'deleted' ? true : undefined), 3000, 'the end');
    expectError(await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${s.session_id}`), 404, 'rtp_session_not_found');
    sender.close();
    senderRtcp.close();
  });
});

const G722_SECONDS = 2;

/** Streams a 5 kHz tone as G.722 with payload type 9, 20 ms a packet in real time, then closes the session. */
async function streamG722(): Promise<{ session: any; ended: Promise<{ samples: Float32Array; sampleRate: number }> }> {
  const session = (await open({ codec: 'g722', station_key: 'wideband' })).json;
  const sender = await TestSocket.bind();
  // 5 kHz: above what 8 kHz audio can carry, so only a true 16 kHz path keeps it.
  const pcm = toInt16(sine(5000, -12, G722_SECONDS, 16000));
  const enc = new G722Encoder();
  const started = Date.now();
  for (let i = 0; i < G722_SECONDS * 50; i++) {
    const out = new Uint8Array(160);
    enc.encode(pcm.subarray(i * 320, (i + 1) * 320), out);
    // 20 ms is 160 ticks of G.722's 8000 Hz RTP clock (RFC 3551 §4.5.2), though 320 samples.
    await sender.send(rtp(i, 1234 + 160 * i, 0x722, 9, out), session.port);
    await sleep(Math.max(0, started + 20 * (i + 1) - Date.now()));
  }
  sender.close();
  expect((await http(t.httpUrl, admin, 'DELETE', `/api/rtp/sessions/${session.session_id}`)).status).toBe(200);
  return { session, ended: stationAudio(t.relay, session.trace_id, 'wideband') };
}

let g722: ReturnType<typeof streamG722>;

describe('G.722 (payload type 9)', () => {
  it('arrives as 16 kHz audio: 8 kHz RTP timestamps become the right media time', async () => {
    const { session, ended } = await g722;
    expect(session).toMatchObject({ payload_type: 9, clock_rate: 8000, sample_rate: 16000 });
    const { samples, sampleRate } = await ended;
    expect(sampleRate).toBe(16000);
    // Where the tone is: its length says each packet filled 20 ms, no more, no less.
    let first = -1;
    let last = -1;
    for (let i = 0; i < samples.length; i++) {
      if (Math.abs(samples[i]) > 0.05) {
        if (first < 0) first = i;
        last = i;
      }
    }
    const toneS = (last - first + 1) / 16000;
    console.log(`g722: ${toneS.toFixed(3)} s of tone stored at ${sampleRate} Hz (sent ${G722_SECONDS} s)`);
    expect(Math.abs(toneS - G722_SECONDS)).toBeLessThan(0.05);
    const level = measureToneDbfs(samples, 5000, 16000, first + 1600, last - 1600);
    expect(Math.abs(level - -12)).toBeLessThan(1.5);
  }, 15_000);
});
