/**
 * The HTTP server: health, the WebSockets, the REST API and the built PWA, on one origin.
 * Routes only wire requests to the components that do the work. Every route declares who
 * may use it (access.ts); every WebSocket endpoint has a connection cap (connection-limiter.ts)
 * and a heartbeat (heartbeat.ts).
 */
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { registerOptimizerRoutes, type ApiContext } from '../api/optimizer-routes.ts';
import { statsRoute } from '../api/schemas.ts';
import { registerUploadRoutes } from '../api/upload-routes.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import { LogThrottle } from '../logging/log-throttle.ts';
import type { LimitCounters, LimitName } from '../metrics/limit-counters.ts';
import type { RelayMetrics } from '../metrics/prometheus.ts';
import type { TelemetryHub } from '../telemetry/hub.ts';
import type { UploadService } from '../uploads/upload-service.ts';
import { installAccessControl, needsToken, openOnLoopback, PUBLIC, type DeclaredRoute } from './access.ts';
import { clientAddress, ConnectionLimiter } from './connection-limiter.ts';
import type { Heartbeat } from './heartbeat.ts';

/** Who is on the other end of a socket: its address, and its identity for fair shares. */
export interface ClientInfo {
  address: string;
  /** "token:<id>" when the client presented a token, else "address:<ip>" (retention shares by it). */
  key: string;
}

export interface ServerDeps {
  config: RelayConfig;
  tokens: TokenStore;
  api: ApiContext;
  uploads: UploadService;
  /** False once the relay is known to be bound to loopback only; ingest and meters then need no token. */
  exposed(): boolean;
  onIngest(socket: WebSocket, client: ClientInfo): void;
  telemetry: TelemetryHub;
  metrics: RelayMetrics;
  limits: LimitCounters;
  heartbeat: Heartbeat;
  health(): Record<string, unknown>;
  stats(): Record<string, unknown>;
  resetLatency(): void;
}

export interface Server {
  app: FastifyInstance;
  /** Every route with its declared access (the auth matrix tests walk it). */
  routes: readonly DeclaredRoute[];
  ingestConnections: ConnectionLimiter;
  telemetryConnections: ConnectionLimiter;
}

/** Longest an HTTP request may take, headers to last body byte (a 1 MiB upload chunk over a slow phone link fits). */
const REQUEST_TIMEOUT_MS = 120_000;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.status(status).send({ success: false, error: { code, message } });
}

export function clientOf(req: FastifyRequest): ClientInfo {
  const address = clientAddress(req.socket);
  return { address, key: req.token !== undefined ? `token:${req.token.id}` : `address:${address}` };
}

export async function buildServer(deps: ServerDeps): Promise<Server> {
  const { config } = deps;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Errors the router raises before any route runs (a bad %-escape, a parameter over the
    // length limit) answer in the same envelope as every other error.
    frameworkErrors: (err, _req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      const code = status === 414 ? 'uri_too_long' : 'invalid_request';
      return sendError(reply, status, code, err.message);
    },
    // Requests Node's parser refuses (a malformed request line, oversized headers, a
    // timeout) never reach a route; they too are answered in the envelope.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const refusal = clientRefusal((err as NodeJS.ErrnoException).code);
      const body = JSON.stringify({ success: false, error: { code: refusal.code, message: refusal.message } });
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(err);
    },
  });
  // Query strings and path parameters are text, so their numbers are coerced (limit=5);
  // bodies are JSON and are not: a knob sent as "6" or null is a bad request, not a 6 or a 0.
  const ajvOptions = { removeAdditional: false, useDefaults: true, allowUnionTypes: true, allErrors: false } as const;
  const coercing = new Ajv({ ...ajvOptions, coerceTypes: true });
  const strict = new Ajv({ ...ajvOptions, coerceTypes: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Tapwire relay API', version: '0.1.0', description: 'The optimizer contract (seed 000) and the relay\'s REST API.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: true,
  });
  // Socket errors after the upgrade (invalid UTF-8 in a text frame, a bad frame, a reset)
  // are the peer's doing: ws has already closed with the right code (1007, 1002, ...), so
  // they are counted and logged as warnings, at most one line per kind every 10 s.
  const socketErrorLog = new LogThrottle(10_000);
  let socketErrors = 0;
  await app.register(fastifyWebsocket, {
    // The relay enforces config.maxMessageBytes itself, so it can say why before closing;
    // this is only the hard stop for anything larger.
    options: { maxPayload: Math.max(1024 * 1024, config.maxMessageBytes * 4), perMessageDeflate: false },
    errorHandler: (error, socket, req) => {
      socketErrors++;
      const code = (error as { code?: string }).code ?? error.name;
      const held = socketErrorLog.take(code, Date.now());
      if (held !== null) req.log.warn({ code, path: req.routeOptions.url, socket_errors: socketErrors, held_back: held }, `websocket closed on a peer error: ${error.message}`);
      socket.terminate();
    },
  });

  // After the WebSocket plugin, whose own onRequest hook must run first: a refused upgrade's
  // socket is then closed with the answer.
  const routes = installAccessControl(app, { tokens: deps.tokens, exposed: deps.exposed, refuse: sendError });

  // Cross-origin isolation (COOP + COEP) on every response, so the PWA is crossOriginIsolated
  // and its AudioWorklet can share a SharedArrayBuffer ring (STYLE.md habit 3); CORP keeps
  // the relay's own responses loadable under its require-corp.
  app.addHook('onSend', async (_req, reply) => {
    void reply
      .header('Cross-Origin-Opener-Policy', 'same-origin')
      .header('Cross-Origin-Embedder-Policy', 'require-corp')
      .header('Cross-Origin-Resource-Policy', 'same-origin');
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err.status, err.code, err.message);
    const e = err as { statusCode?: number; message?: string; validation?: unknown; code?: string };
    if (e.validation !== undefined) return sendError(reply, 400, 'invalid_request', e.message ?? 'invalid request');
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit;
      return sendError(reply, 413, 'body_too_large', `the request body is over the ${limit} bytes ${req.method} ${req.routeOptions.url ?? req.url} accepts; send it in smaller pieces`);
    }
    const status = e.statusCode ?? 500;
    if (status >= 500) app.log.error(err);
    return sendError(reply, status, status >= 500 ? 'internal' : 'invalid_request', status >= 500 ? 'internal error' : (e.message ?? 'bad request'));
  });

  app.get('/healthz', { config: { access: PUBLIC } }, async () => ({ status: 'ok', ...deps.health() }));

  // Connection caps, checked before the upgrade: a refusal is a plain HTTP answer with
  // Retry-After, and costs the relay no WebSocket.
  const ingestConnections = new ConnectionLimiter('/ws/ingest', config.maxIngestConnections, config.maxConnectionsPerAddress);
  const telemetryConnections = new ConnectionLimiter('/ws/telemetry', config.maxTelemetryClients, config.maxConnectionsPerAddress);
  const capped =
    (limiter: ConnectionLimiter, total: LimitName, perAddress: LimitName) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const refusal = limiter.tryAcquire(clientAddress(req.socket), req.socket);
      if (refusal === null) return undefined;
      deps.limits.count(refusal.status === 503 ? total : perAddress);
      void reply.header('Retry-After', String(refusal.retryAfterS));
      return sendError(reply, refusal.status, refusal.code, refusal.message);
    };

  // A plain GET on a WebSocket endpoint is told to upgrade, in the same envelope as every error.
  const upgradeRequired = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    sendError(reply, 426, 'upgrade_required', `${req.routeOptions.url} is a WebSocket endpoint: connect with a WebSocket client (ws:// or wss://)`);

  app.route({
    method: 'GET',
    url: '/ws/ingest',
    config: { access: openOnLoopback('ingest', { tokenInQuery: true }) },
    preHandler: capped(ingestConnections, 'ingest_connections', 'ingest_connections_per_address'),
    handler: upgradeRequired,
    wsHandler: (socket, req) => deps.onIngest(socket, clientOf(req)),
  });

  // Live meters (seed 003): the snapshot and the stream carry the same measurement.
  app.get('/measurements', { config: { access: openOnLoopback('read:snapshots', { tokenInQuery: true }) } }, async (req, reply) => {
    const traceId = (req.query as { trace_id?: string }).trace_id ?? null;
    return reply.type('application/json').send(deps.telemetry.measurementJson(traceId));
  });
  app.route({
    method: 'GET',
    url: '/ws/telemetry',
    config: { access: openOnLoopback('read:snapshots', { tokenInQuery: true }) },
    preHandler: capped(telemetryConnections, 'telemetry_clients', 'telemetry_connections_per_address'),
    handler: upgradeRequired,
    wsHandler: (socket, req) => {
      const q = req.query as { trace_id?: string; spectrum?: string };
      deps.heartbeat.add(socket);
      deps.telemetry.addClient(socket, q.trace_id ?? null, q.spectrum ?? null);
    },
  });

  app.get('/metrics', { config: { access: openOnLoopback('admin') } }, async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()));

  registerOptimizerRoutes(app, deps.api);
  registerUploadRoutes(app, deps.uploads);
  // `?reset_latency=1` restarts the latency window after reading it (benchmarks measure windows).
  app.get('/api/relay/stats', { schema: statsRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const body = { success: true, ...deps.stats() };
    if ((req.query as { reset_latency?: string }).reset_latency === '1') deps.resetLatency();
    return body;
  });
  app.get('/api/openapi.json', { config: { access: needsToken(null) } }, async () => app.swagger());

  // The built app: files from build/, and the app shell for client-side routes.
  const shell = existsSync(join(config.appDir, 'index.html')) ? 'index.html' : null;
  await app.register(fastifyStatic, { root: config.appDir, serve: false });
  app.get('/*', { config: { access: PUBLIC } }, (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (isReservedPath(`/${path}`)) return sendError(reply, 404, 'not_found', `no route ${req.method} ${decodedPath(req.url)}`);
    if (shell === null) return appNotBuilt(reply);
    // A missing file falls through to the not-found handler, which answers with the shell.
    void reply.sendFile(path === '' ? shell : path);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = decodedPath(req.url);
    if (isReservedPath(path) || req.method !== 'GET') return sendError(reply, 404, 'not_found', `no route ${req.method} ${path}`);
    if (shell === null) return appNotBuilt(reply);
    // Client-side routes (/capture, /listen/<id>, ...) are served by the app shell.
    void reply.type('text/html').sendFile(shell);
  });

  return { app, routes, ingestConnections, telemetryConnections };
}

/** What a request Node's parser refused is answered with. */
function clientRefusal(code: string | undefined): { status: number; code: string; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'request_timeout', message: `the request took longer than ${REQUEST_TIMEOUT_MS} ms to arrive` };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'headers_too_large', message: 'the request headers are over the size limit (16 KiB)' };
  return { status: 400, code: 'invalid_request', message: 'the request is not valid HTTP/1.1 (its request line or headers could not be parsed)' };
}

/** The path of a request target (origin- or absolute-form), without its query, percent-decoded where it can be. */
function decodedPath(target: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') : target;
  const bare = path.split(/[?#]/)[0];
  try {
    return decodeURIComponent(bare);
  } catch {
    return bare;
  }
}

/**
 * Paths of the API and the WebSockets, however spelled (any case, repeated slashes,
 * backslashes): never answered with the app shell, always with the 404 envelope.
 */
function isReservedPath(path: string): boolean {
  const p = path.replace(/[\\/]+/g, '/').toLowerCase();
  return /^\/(api|ws)(\/|$)/.test(p);
}

function appNotBuilt(reply: FastifyReply): FastifyReply {
  return reply
    .status(503)
    .type('text/plain')
    .send('The Tapwire app is not built. Run `npm start` (it builds what is missing) or `npm run build`.\n');
}
