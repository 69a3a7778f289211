/**
 * `GET /ws/listen` (protocol/listen.ts): the route only wires. Its access is PUBLIC in
 * access.ts's terms, because the `stream_id` in its query is the capability (seed 002 §14,
 * docs/SECURITY.md "Listening"): 128 random bits that the relay checks on the socket, with
 * a 4404 that says nothing about which ids exist. No token is asked for, so a link can be
 * shared with someone who has none.
 *
 * Before the upgrade, the listener caps per relay and per client address refuse in the API's
 * envelope with `Retry-After` (503 relay_busy, 429 too_many_connections), as the other
 * WebSocket endpoints' caps do (connection-limiter.ts). The query is not validated by a route
 * schema: a bad one must get an `error` message and close 1008 (a browser cannot read a
 * refused upgrade's status), so the listen service checks it after the upgrade.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ERROR_STATUS, type ErrorCode } from '../../../protocol/errors.ts';
import { LISTEN_PATH } from '../../../protocol/listen.ts';
import { PUBLIC } from '../http/access.ts';
import { clientAddress, ConnectionLimiter } from '../http/connection-limiter.ts';
import type { LimitCounters } from '../metrics/limit-counters.ts';

export interface ListenRouteDeps {
  maxListeners: number;
  maxListenersPerAddress: number;
  limits: LimitCounters;
  /** A socket the route upgraded, the connection under it, and the query as the router parsed it. */
  onListen(socket: WebSocket, wire: Socket, query: unknown): void;
}

function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.status(ERROR_STATUS[code]).send({ success: false, error: { code, message } });
}

export function registerListenRoute(app: FastifyInstance, deps: ListenRouteDeps): ConnectionLimiter {
  const limiter = new ConnectionLimiter(LISTEN_PATH, deps.maxListeners, deps.maxListenersPerAddress);
  app.route({
    method: 'GET',
    url: LISTEN_PATH,
    config: { access: PUBLIC },
    preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
      const refusal = limiter.tryAcquire(clientAddress(req), req.socket);
      if (refusal === null) return undefined;
      deps.limits.count(refusal.code === 'relay_busy' ? 'listeners' : 'listeners_per_address');
      void reply.header('Retry-After', String(refusal.retryAfterS));
      return sendError(reply, refusal.code, refusal.message);
    },
    handler: async (req, reply) => sendError(reply, 'upgrade_required', `${LISTEN_PATH} is a WebSocket endpoint: connect with a WebSocket client (ws:// or wss://)`),
    wsHandler: (socket, req) => deps.onListen(socket, req.socket, req.query),
  });
  return limiter;
}
