/**
 * The RTP session routes (protocol/rtp.ts): wiring from HTTP to the RTP sessions. Every
 * route needs a token with the `ingest` scope: a session id closes a station and a session
 * carries its station's stream id (a listen capability), so read-only tokens see neither.
 *
 * `POST /api/rtp/sessions` takes JSON, or an SDP offer (Content-Type: application/sdp) and
 * then answers with SDP; trace_id, station_key, label and call_id of an SDP request travel in
 * the query string (an `a=call-id:` attribute and the session name fill the last two).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ERROR_STATUS, ErrorEnvelope, type ErrorCode, type ErrorStatus } from '../../../protocol/errors.ts';
import { MAX_SDP_BYTES, RtpSessionListResponse, RtpSessionParams, RtpSessionQuery, RtpSessionRequest, RtpSessionResponse } from '../../../protocol/rtp.ts';
import * as T from '../../../protocol/schema.ts';
import type { TokenInfo } from '../auth/token-store.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import { clientAddress } from '../http/connection-limiter.ts';
import type { StationClient } from '../live/live-registry.ts';
import type { RtpOpenRequest, RtpSessions } from '../rtp/rtp-sessions.ts';
import { buildSdpAnswer, parseSdpOffer } from '../rtp/sdp.ts';

const TAGS = ['rtp'];
const TOKEN_ROUTE: readonly ErrorCode[] = ['unauthorized', 'forbidden', 'internal'];

/** Per HTTP status, the error envelope with that status's codes (as schemas.ts does). */
function errors(codes: readonly ErrorCode[]): Partial<Record<ErrorStatus, ReturnType<typeof ErrorEnvelope>>> {
  const byStatus = new Map<ErrorStatus, ErrorCode[]>();
  for (const code of new Set([...TOKEN_ROUTE, ...codes])) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, list]) => [status, ErrorEnvelope(list, `error: ${list.join(', ')}`)]));
}

const sdpText = { type: 'string', contentMediaType: 'application/sdp', maxLength: MAX_SDP_BYTES } as const;
const location = { Location: { type: 'string', description: '/api/rtp/sessions/<session_id>' } };

const openRoute = {
  summary: 'Open an RTP session: a UDP port for RTP (and the next for RTCP) feeding a new station. JSON in, JSON out; or an SDP offer in, an SDP answer out',
  tags: TAGS,
  operationId: 'openRtpSession',
  querystring: RtpSessionQuery,
  body: { content: { 'application/json': { schema: RtpSessionRequest }, 'application/sdp': { schema: sdpText } } },
  response: {
    201: {
      description: 'the session (JSON), or the SDP answer',
      headers: location,
      content: { 'application/json': { schema: RtpSessionResponse }, 'application/sdp': { schema: sdpText } },
    },
    ...errors(['invalid_request', 'unsupported_media_type', 'body_too_large', 'rtp_sessions_full', 'rtp_ports_exhausted', 'relay_busy']),
  },
};

const listRoute = {
  summary: 'The open RTP sessions, with their RTP and RTCP counters and the sender\'s clock from its sender reports',
  tags: TAGS,
  operationId: 'listRtpSessions',
  response: { 200: RtpSessionListResponse, ...errors([]) },
};

const getRoute = {
  summary: 'One open RTP session',
  tags: TAGS,
  operationId: 'getRtpSession',
  params: RtpSessionParams,
  response: { 200: RtpSessionResponse, ...errors(['rtp_session_not_found', 'not_found']) },
};

const deleteRoute = {
  summary: 'Close an RTP session: the relay sends its RTCP BYE, the station ends, the ports are freed. Answers the final state',
  tags: TAGS,
  operationId: 'closeRtpSession',
  params: RtpSessionParams,
  response: { 200: RtpSessionResponse, ...errors(['rtp_session_not_found', 'not_found']) },
};

/** The address a sender is told: the bound one, or for a wildcard, the host the request named. */
function advertisedHost(bound: string, req: FastifyRequest): string {
  if (bound !== '0.0.0.0' && bound !== '::' && bound !== '') return bound;
  const host = req.hostname;
  const bracketed = /^\[([^\]]+)\]/.exec(host);
  if (bracketed !== null) return bracketed[1];
  // A name or IPv4 address, perhaps with a port; a bare IPv6 address has several colons.
  return host.split(':').length === 2 ? host.replace(/:\d+$/, '') : host;
}

function stationClient(req: FastifyRequest): StationClient {
  return { address: clientAddress(req), key: `token:${(req.token as TokenInfo).id}` };
}

export function registerRtpRoutes(server: FastifyInstance, sessions: RtpSessions, boundHost: string): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.addContentTypeParser('application/sdp', { parseAs: 'string', bodyLimit: MAX_SDP_BYTES }, (_req, body, done) => done(null, body));

  app.post('/api/rtp/sessions', { schema: openRoute, bodyLimit: MAX_SDP_BYTES, config: { access: needsToken('ingest') } }, async (req, reply) => {
    const query = req.query as T.Static<typeof RtpSessionQuery>;
    const host = advertisedHost(boundHost, req);
    if (typeof req.body === 'string') {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/sdp') {
        throw new ApiError('unsupported_media_type', `POST /api/rtp/sessions takes JSON (application/json) or an SDP offer (application/sdp), not ${type || 'no type'}`);
      }
      const parsed = parseSdpOffer(req.body);
      if (!parsed.ok) throw new ApiError('invalid_request', `body: ${parsed.message}`);
      const { offer } = parsed;
      const session = await sessions.open(
        {
          codec: offer.codec,
          payloadType: offer.payloadType,
          clockRate: offer.clockRate,
          channels: offer.channels,
          ptimeMs: offer.ptimeMs,
          traceId: query.trace_id,
          stationKey: query.station_key,
          label: query.label ?? offer.sessionName?.slice(0, 120) ?? null,
          callId: query.call_id ?? offer.callId,
        },
        stationClient(req),
        host,
      );
      return reply
        .status(201)
        .header('location', `/api/rtp/sessions/${session.id}`)
        .type('application/sdp')
        .send(buildSdpAnswer({ host, port: session.port, rtcpPort: session.rtcpPort, sessionId: session.id, offer }));
    }
    const body = req.body as T.Static<typeof RtpSessionRequest>;
    const open: RtpOpenRequest = {
      codec: body.codec,
      payloadType: body.payload_type,
      clockRate: body.clock_rate,
      channels: body.channels,
      traceId: body.trace_id ?? query.trace_id,
      stationKey: body.station_key ?? query.station_key,
      label: body.label ?? query.label ?? null,
      callId: body.call_id ?? query.call_id ?? null,
    };
    const session = await sessions.open(open, stationClient(req), host);
    return reply.status(201).header('location', `/api/rtp/sessions/${session.id}`).send({ success: true as const, ...session.info() });
  });

  app.get('/api/rtp/sessions', { schema: listRoute, config: { access: needsToken('ingest') } }, async () => ({ success: true as const, sessions: sessions.list() }));

  app.get('/api/rtp/sessions/:session_id', { schema: getRoute, config: { access: needsToken('ingest') } }, async (req) => ({
    success: true as const,
    ...sessions.get(req.params.session_id).info(),
  }));

  app.delete('/api/rtp/sessions/:session_id', { schema: deleteRoute, config: { access: needsToken('ingest') } }, async (req) => ({
    success: true as const,
    ...sessions.close(req.params.session_id, 'deleted'),
  }));
}
