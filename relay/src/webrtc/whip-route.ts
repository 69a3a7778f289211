/**
 * WHIP ingest (RFC 9725) and WHEP egress over HTTP; the sessions are webrtc-service.ts's.
 *
 * The contract
 * ------------
 * POST /whip?trace_id=&station_key=&label=
 *   Access: openOnLoopback('ingest'): no token on a relay bound to loopback only, otherwise
 *   `Authorization: Bearer <token with scope ingest>` (401 unauthorized, 403 forbidden).
 *   Query (all optional, as the WebSocket ingest's `start`): `trace_id` joins an existing
 *   live trace (otherwise a new trace), `station_key` names the station in it (otherwise the
 *   relay picks `st_...`), `label` is shown in the UI (at most 120 characters). Ids match
 *   ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$.
 *   Body: the SDP offer, `Content-Type: application/sdp`, with an audio m-section that
 *   offers opus/48000/2, sendonly or sendrecv, and every ICE candidate (no trickle: gather
 *   first, as browsers do by waiting for iceGatheringState "complete"); `.local` mDNS
 *   candidates are ignored.
 *   201 Created: the SDP answer (`Content-Type: application/sdp`), Opus with the payload
 *   type offered and `useinbandfec=1`, and the relay's host candidates (127.0.0.1 among
 *   them). Headers: `Location: /whip/<session-id>`, and the station's identity for links:
 *   `X-Tapwire-Trace-Id`, `X-Tapwire-Station-Key`, `X-Tapwire-Stream-Id` (the listen
 *   capability, for /ws/listen and WHEP), `X-Tapwire-Mix-Stream-Id`.
 *   Errors ({"success":false,"error":{"code","message"}}): 400 bad_sdp (not SDP, no audio,
 *   no Opus, wrong direction, no ICE or DTLS attributes), 400 invalid_request (a bad or
 *   unknown trace_id, a taken station_key), 415 unsupported_media_type (not
 *   application/sdp), 503 relay_busy with Retry-After (WHIP sessions or stations at their
 *   cap, relay stopping).
 *   The session then: ICE and DTLS must connect within 10 s (TAPWIRE_WEBRTC_CONNECT_TIMEOUT_MS)
 *   or it is closed and its station freed; the station streams from its first RTP packet;
 *   no audio for TAPWIRE_STATION_IDLE_TIMEOUT_MS (30 s) ends it, and so does a connection
 *   that fails or closes.
 * DELETE /whip/<session-id>: ends the session and its station (reason `stop`). 200 with
 *   `{"success":true}`; 404 session_not_found. Same access as POST.
 * PATCH /whip/<session-id>: 405 method_not_allowed (`Allow: DELETE`): the relay does no
 *   trickle ICE or ICE restart, which RFC 9725 §4.3.1 lets a server refuse so; 404
 *   session_not_found for an unknown session.
 *
 * POST /whep/<stream_id>
 *   Access: PUBLIC, as /ws/listen: the stream id is the capability (listen-route.ts).
 *   Body: an SDP offer (application/sdp) with an audio m-section, opus/48000/2, recvonly
 *   or sendrecv, every candidate included.
 *   201 Created: the answer, a sendonly Opus track carrying the station's POST tap (what
 *   the station sounds like after its knobs), 20 ms packets of mono Opus.
 *   `Location: /whep/<stream_id>/<session-id>`.
 *   Errors: 404 stream_not_found (unknown or ended stream, or a call's mix stream), 400
 *   bad_sdp, 415 unsupported_media_type, 503 relay_busy with Retry-After (WHEP sessions at
 *   the relay's cap or the stream's).
 *   The session closes when its station ends, when it does not connect in time, or when the
 *   connection fails or closes.
 * DELETE /whep/<stream_id>/<session-id>: 200 `{"success":true}`; 404 session_not_found.
 * PATCH /whep/<stream_id>/<session-id>: 405 method_not_allowed, as for WHIP.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ID_PATTERN, MAX_LABEL_LENGTH } from '../../../protocol/ingest.ts';
import { ApiError } from '../errors.ts';
import { openOnLoopback, PUBLIC } from '../http/access.ts';
import { clientOf } from '../http/server.ts';
import { MAX_OFFER_BYTES } from './sdp-offer.ts';
import type { WebRtcService, WhipIdentity } from './webrtc-service.ts';

export const WHIP_PATH = '/whip';
export const WHEP_PATH = '/whep';

const SDP_TYPE = 'application/sdp';

/** The offer, or a 415 that says what the route takes. */
function sdpBody(req: FastifyRequest): string {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== SDP_TYPE) {
    throw new ApiError('unsupported_media_type', `${req.method} ${req.routeOptions.url} takes an SDP offer (Content-Type: ${SDP_TYPE}), not ${req.headers['content-type'] ?? 'no type'}`);
  }
  return typeof req.body === 'string' ? req.body : '';
}

function identityOf(query: unknown): WhipIdentity {
  const q = (query ?? {}) as Record<string, unknown>;
  const out: WhipIdentity = {};
  for (const [field, key] of [['trace_id', 'traceId'], ['station_key', 'stationKey']] as const) {
    const v = q[field];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || !ID_PATTERN.test(v)) throw new ApiError('invalid_request', `${field} must match ${ID_PATTERN.source} (given once)`);
    out[key] = v;
  }
  const label = q.label;
  if (label !== undefined && label !== '') {
    if (typeof label !== 'string' || label.length > MAX_LABEL_LENGTH) throw new ApiError('invalid_request', `label must be a string of at most ${MAX_LABEL_LENGTH} characters (given once)`);
    out.label = label;
  }
  return out;
}

function created(reply: FastifyReply, location: string, answer: string): FastifyReply {
  return reply.status(201).header('Location', location).header('Content-Type', SDP_TYPE).send(answer);
}

function noTrickle(): never {
  throw new ApiError(
    'method_not_allowed',
    'this relay takes no trickle ICE or ICE restart: send every candidate in the offer (wait for ICE gathering to complete), and POST a new offer to restart',
    { Allow: 'DELETE' },
  );
}

export function registerWebRtcRoutes(app: FastifyInstance, service: WebRtcService): void {
  const ingest = openOnLoopback('ingest');
  // In a scope of their own: the SDP body parser applies to these routes only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Any type is read as text, so the handler can refuse a wrong one in its own words.
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_OFFER_BYTES }, (_req, body, done) => done(null, body));

    scope.post(WHIP_PATH, { config: { access: ingest } }, async (req, reply) => {
      const offer = sdpBody(req);
      const identity = identityOf(req.query);
      const s = await service.publish(offer, identity, clientOf(req));
      void reply
        .header('X-Tapwire-Trace-Id', s.station.traceId)
        .header('X-Tapwire-Station-Key', s.station.stationKey)
        .header('X-Tapwire-Stream-Id', s.station.streamId)
        .header('X-Tapwire-Mix-Stream-Id', s.station.mixStreamId);
      return created(reply, `${WHIP_PATH}/${s.sessionId}`, s.answer);
    });

    scope.delete<{ Params: { session: string } }>(`${WHIP_PATH}/:session`, { config: { access: ingest } }, async (req) => {
      if (!service.unpublish(req.params.session)) throw new ApiError('session_not_found', 'no WHIP session at this URL: it has ended, or never existed');
      return { success: true };
    });

    scope.patch<{ Params: { session: string } }>(`${WHIP_PATH}/:session`, { config: { access: ingest } }, async (req) => {
      if (!service.hasWhip(req.params.session)) throw new ApiError('session_not_found', 'no WHIP session at this URL: it has ended, or never existed');
      return noTrickle();
    });

    scope.post<{ Params: { stream: string } }>(`${WHEP_PATH}/:stream`, { config: { access: PUBLIC } }, async (req, reply) => {
      const offer = sdpBody(req);
      const s = await service.play(req.params.stream, offer);
      return created(reply, `${WHEP_PATH}/${req.params.stream}/${s.sessionId}`, s.answer);
    });

    scope.delete<{ Params: { stream: string; session: string } }>(`${WHEP_PATH}/:stream/:session`, { config: { access: PUBLIC } }, async (req) => {
      if (!service.stopPlaying(req.params.stream, req.params.session)) throw new ApiError('session_not_found', 'no WHEP session at this URL: it has ended, or never existed');
      return { success: true };
    });

    scope.patch<{ Params: { stream: string; session: string } }>(`${WHEP_PATH}/:stream/:session`, { config: { access: PUBLIC } }, async (req) => {
      if (!service.hasWhep(req.params.stream, req.params.session)) throw new ApiError('session_not_found', 'no WHEP session at this URL: it has ended, or never existed');
      return noTrickle();
    });
  });
}
