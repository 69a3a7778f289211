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
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import fastifyWebsocket from '@fastify/websocket';
import { Ajv, type ErrorObject } from 'ajv';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Health, HealthInfo, RelayStats } from '../../../protocol/api.ts';
import { ERROR_STATUS, type ErrorCode } from '../../../protocol/errors.ts';
import * as T from '../../../protocol/schema.ts';
import { MeasurementMessage, SpectrumMessage, TelemetryMessage, type MeasurementsQuery } from '../../../protocol/telemetry.ts';
import { registerExportRoutes } from '../api/export-routes.ts';
import { registerOptimizerRoutes, type ApiContext } from '../api/optimizer-routes.ts';
import { healthRoute, measurementsRoute, openApiRoute, statsRoute, telemetrySocketRoute } from '../api/schemas.ts';
import { registerSessionRoutes } from '../api/session-routes.ts';
import { registerTraceListRoutes } from '../api/trace-list-routes.ts';
import { registerUploadRoutes } from '../api/upload-routes.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import { relayLoggerOptions } from '../logging/log-options.ts';
import { LogThrottle } from '../logging/log-throttle.ts';
import type { LimitCounters, LimitName } from '../metrics/limit-counters.ts';
import type { RelayMetrics } from '../metrics/prometheus.ts';
import type { TelemetryHub } from '../telemetry/hub.ts';
import type { UploadService } from '../uploads/upload-service.ts';
import type { RelayTls } from '../tls/relay-tls.ts';
import { installAccessControl, needsToken, openOnLoopback, PUBLIC, type DeclaredRoute } from './access.ts';
import { clientAddress, ConnectionLimiter } from './connection-limiter.ts';
import type { Heartbeat } from './heartbeat.ts';
import { TrustedProxies } from './trusted-proxies.ts';

/** Who is on the other end of a socket: its address, and its identity for fair shares. */
export interface ClientInfo {
  address: string;
  /** "token:<id>" when the client presented a token, else "address:<ip>" (retention shares by it). */
  key: string;
}

export interface ServerDeps {
  config: RelayConfig;
  /** HTTPS (and WSS) on the relay's port with this certificate; null: plain HTTP. */
  tls: RelayTls | null;
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
  /** GET /healthz besides `status` (protocol/api.ts HealthInfo; typed loosely until relay.ts declares it). */
  health(): HealthInfo;
  /** GET /api/relay/stats besides `success` (protocol/api.ts RelayStats; typed loosely until relay.ts declares it). */
  stats(): RelayStats;
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

/** An error answer: the envelope, with the status of its code (protocol/errors.ts). */
function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.status(ERROR_STATUS[code]).send({ success: false, error: { code, message } });
}

/**
 * The code of an error fastify or Node raised before or around a handler, from the status it
 * carries (a body of the wrong type is 415, an oversized one 413, ...). Anything else of the
 * client's doing is a bad request.
 */
function frameworkErrorCode(statusCode: number | undefined): ErrorCode {
  if (statusCode === undefined || statusCode >= 500) return 'internal';
  switch (statusCode) {
    case 404:
      return 'not_found';
    case 408:
      return 'request_timeout';
    case 413:
      return 'body_too_large';
    case 414:
      return 'uri_too_long';
    case 415:
      return 'unsupported_media_type';
    case 431:
      return 'headers_too_large';
    default:
      return 'invalid_request';
  }
}

/**
 * A validation failure as one sentence that names the field and says what would be right
 * (Ajv's own words, with the allowed values or the unexpected property spelled out).
 */
function validationMessage(errors: ErrorObject[], dataVar: string): string {
  const e = errors[0];
  if (e === undefined) return `${dataVar} is not valid`;
  const where = `${dataVar}${e.instancePath}`;
  const p = e.params as { allowedValues?: unknown[]; allowedValue?: unknown; additionalProperty?: string };
  if (e.keyword === 'enum' && p.allowedValues !== undefined) return `${where} must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'const') return `${where} must be ${JSON.stringify(p.allowedValue)}`;
  if (e.keyword === 'additionalProperties' && p.additionalProperty !== undefined) return `${where} has an unknown field "${p.additionalProperty}"`;
  return `${where} ${e.message ?? 'is not valid'}`;
}

export function clientOf(req: FastifyRequest): ClientInfo {
  const address = clientAddress(req);
  return { address, key: req.token !== undefined ? `token:${req.token.id}` : `address:${address}` };
}

export async function buildServer(deps: ServerDeps): Promise<Server> {
  const { config } = deps;
  const app = Fastify({
    // HTTP/1.1 over TLS when a certificate is given: the WebSockets upgrade on it as wss://.
    ...(deps.tls === null ? {} : { https: { cert: deps.tls.cert, key: deps.tls.key } }),
    logger: relayLoggerOptions(config),
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Errors the router raises before any route runs (a bad %-escape, a parameter over the
    // length limit) answer in the same envelope as every other error.
    frameworkErrors: (err, _req, reply) => sendError(reply, frameworkErrorCode((err as { statusCode?: number }).statusCode ?? 400), err.message),
    schemaErrorFormatter: (errors, dataVar) => new Error(validationMessage(errors as ErrorObject[], dataVar)),
    // Requests Node's parser refuses (a malformed request line, oversized headers, a
    // timeout) never reach a route; they too are answered in the envelope.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const refusal = clientRefusal((err as NodeJS.ErrnoException).code);
      const status = ERROR_STATUS[refusal.code];
      const body = JSON.stringify({ success: false, error: { code: refusal.code, message: refusal.message } });
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(err);
    },
  });
  // Who a request's client is, behind a reverse proxy (connection-limiter.ts clientAddress).
  app.decorate('trustedProxies', new TrustedProxies(config.trustedProxies));
  // Query strings and path parameters are text, so their numbers are coerced (limit=5);
  // bodies are JSON and are not: a knob sent as "6" or null is a bad request, not a 6 or a 0.
  const ajvOptions = { removeAdditional: false, useDefaults: true, allowUnionTypes: true, allErrors: false } as const;
  const coercing = new Ajv({ ...ajvOptions, coerceTypes: true });
  const strict = new Ajv({ ...ajvOptions, coerceTypes: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  // OpenAPI 3.1: its schemas are JSON Schema 2020-12, which is what the route schemas are
  // (`null` as a type, `const`, numeric `exclusiveMinimum`). Untagged routes (the WebSockets,
  // /metrics, the app's files) stay out of the document.
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tapwire relay API',
        version: '0.1.0',
        description:
          'The optimizer contract (seed 000), the relay\'s REST API and its live meters. Errors are {"success":false,"error":{"code","message"}}; ' +
          'each code has one HTTP status (protocol/errors.ts). The messages of /ws/telemetry are in components.schemas.',
      },
      tags: [
        { name: 'optimizer', description: 'seed 000: discover, snapshot, segment, apply, verify' },
        { name: 'traces', description: 'traces and their stations' },
        { name: 'uploads', description: 'uploads of offline recordings' },
        { name: 'telemetry', description: 'live meters (seed 003)' },
        { name: 'relay', description: 'health, stats and this document' },
      ],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        // The WebSocket's messages, which no path describes.
        schemas: { TelemetryMessage, MeasurementMessage, SpectrumMessage } as Record<string, object>,
      },
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
  // Routes declare their schemas with protocol/'s TypeBox shapes: requests arrive typed.
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  // Cross-origin isolation (COOP + COEP) on every response, so the PWA is crossOriginIsolated
  // and its AudioWorklet can share a SharedArrayBuffer ring (STYLE.md habit 3); CORP keeps
  // the relay's own responses loadable under its require-corp.
  app.addHook('onSend', async (_req, reply) => {
    void reply
      .header('Cross-Origin-Opener-Policy', 'same-origin')
      .header('Cross-Origin-Embedder-Policy', 'require-corp')
      .header('Cross-Origin-Resource-Policy', 'same-origin');
  });

  // The one place an error becomes an HTTP answer: its status comes from its code.
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      for (const [name, value] of Object.entries(err.headers)) void reply.header(name, value);
      return sendError(reply, err.code, err.message);
    }
    const e = err as { statusCode?: number; message?: string; validation?: unknown; code?: string };
    if (e.validation !== undefined) return sendError(reply, 'invalid_request', e.message ?? 'invalid request');
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit;
      return sendError(reply, 'body_too_large', `the request body is over the ${limit} bytes ${req.method} ${req.routeOptions.url ?? req.url} accepts; send it in smaller pieces`);
    }
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendError(reply, 'unsupported_media_type', `${req.method} ${req.routeOptions.url ?? req.url} takes a JSON body (Content-Type: application/json), not ${req.headers['content-type'] ?? 'no type'}`);
    }
    const code = frameworkErrorCode(e.statusCode);
    if (code === 'internal') app.log.error(err);
    return sendError(reply, code, code === 'internal' ? 'internal error' : (e.message ?? 'bad request'));
  });

  api.get('/healthz', { schema: healthRoute, config: { access: PUBLIC } }, async (): Promise<Health> => ({ status: 'ok', ...deps.health() }));

  // Connection caps, checked before the upgrade: a refusal is a plain HTTP answer with
  // Retry-After, and costs the relay no WebSocket.
  const ingestConnections = new ConnectionLimiter('/ws/ingest', config.maxIngestConnections, config.maxConnectionsPerAddress);
  const telemetryConnections = new ConnectionLimiter('/ws/telemetry', config.maxTelemetryClients, config.maxConnectionsPerAddress);
  const capped =
    (limiter: ConnectionLimiter, total: LimitName, perAddress: LimitName) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const refusal = limiter.tryAcquire(clientAddress(req), req.socket);
      if (refusal === null) return undefined;
      deps.limits.count(refusal.code === 'relay_busy' ? total : perAddress);
      void reply.header('Retry-After', String(refusal.retryAfterS));
      return sendError(reply, refusal.code, refusal.message);
    };

  // A plain GET on a WebSocket endpoint is told to upgrade, in the same envelope as every error.
  const upgradeRequired = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    sendError(reply, 'upgrade_required', `${req.routeOptions.url} is a WebSocket endpoint: connect with a WebSocket client (ws:// or wss://)`);

  app.route({
    method: 'GET',
    url: '/ws/ingest',
    config: { access: openOnLoopback('ingest', { tokenInQuery: true }) },
    preHandler: capped(ingestConnections, 'ingest_connections', 'ingest_connections_per_address'),
    handler: upgradeRequired,
    wsHandler: (socket, req) => deps.onIngest(socket, clientOf(req)),
  });

  // Live meters (seed 003): the snapshot and the stream carry the same measurement. The hub
  // has built its JSON already (protocol/telemetry.ts Measurement): it is sent as it is.
  api.get<{ Querystring: MeasurementsQuery; Reply: string }>('/measurements', { schema: measurementsRoute, config: { access: openOnLoopback('read:snapshots', { tokenInQuery: true }) } }, async (req, reply) =>
    reply.type('application/json').send(deps.telemetry.measurementJson(req.query.trace_id ?? null)),
  );
  api.route({
    method: 'GET',
    url: '/ws/telemetry',
    schema: telemetrySocketRoute,
    config: { access: openOnLoopback('read:snapshots', { tokenInQuery: true }) },
    preHandler: capped(telemetryConnections, 'telemetry_clients', 'telemetry_connections_per_address'),
    handler: upgradeRequired,
    wsHandler: (socket, req) => {
      deps.heartbeat.add(socket);
      deps.telemetry.addClient(socket, req.query.trace_id ?? null, req.query.spectrum ?? null);
    },
  });

  app.get('/metrics', { config: { access: openOnLoopback('admin') } }, async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()));

  registerOptimizerRoutes(app, deps.api);
  registerUploadRoutes(app, deps.uploads);
  registerExportRoutes(app, deps.api);
  registerTraceListRoutes(app, deps.api);
  registerSessionRoutes(app);
  // `?reset_latency=1` restarts the latency window after reading it (benchmarks measure windows).
  api.get('/api/relay/stats', { schema: statsRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const body = { success: true as const, ...deps.stats() };
    if (req.query.reset_latency === '1') deps.resetLatency();
    return body;
  });
  api.get('/api/openapi.json', { schema: openApiRoute, config: { access: needsToken(null) } }, async () => openApiDocument(app));

  // The built app: files from build/, and the app shell for client-side routes.
  const shell = existsSync(join(config.appDir, 'index.html')) ? 'index.html' : null;
  await app.register(fastifyStatic, { root: config.appDir, serve: false });
  api.get('/*', { schema: { params: T.Object({ '*': T.String() }) }, config: { access: PUBLIC } }, (req, reply) => {
    const path = req.params['*'];
    if (isReservedPath(`/${path}`)) return sendError(reply, 'not_found', `no route ${req.method} ${decodedPath(req.url)}`);
    if (shell === null) return appNotBuilt(reply);
    // A missing file falls through to the not-found handler, which answers with the shell.
    void reply.sendFile(path === '' ? shell : path);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = decodedPath(req.url);
    if (isReservedPath(path) || req.method !== 'GET') return sendError(reply, 'not_found', `no route ${req.method} ${path}`);
    if (shell === null) return appNotBuilt(reply);
    // Client-side routes (/capture, /listen/<id>, ...) are served by the app shell.
    void reply.type('text/html').sendFile(shell);
  });

  return { app, routes, ingestConnections, telemetryConnections };
}

/** What a request Node's parser refused is answered with. */
function clientRefusal(code: string | undefined): { code: ErrorCode; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'request_timeout', message: `the request took longer than ${REQUEST_TIMEOUT_MS} ms to arrive` };
  if (code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', message: 'the request headers are over the size limit (16 KiB)' };
  return { code: 'invalid_request', message: 'the request is not valid HTTP/1.1 (its request line or headers could not be parsed)' };
}

/** The document @fastify/swagger writes from the route schemas (always OpenAPI 3.1 here). */
function openApiDocument(app: FastifyInstance): T.Static<typeof openApiRoute.response[200]> {
  return app.swagger() as T.Static<typeof openApiRoute.response[200]>;
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
