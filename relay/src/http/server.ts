/**
 * The HTTP server: health, the ingest WebSocket, the REST API and the built PWA, on one
 * origin. Routes only wire requests to the components that do the work; every `/api` route
 * needs a bearer token (seed 000 §9) with the scope its route names.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { WebSocket } from 'ws';
import { registerOptimizerRoutes, type ApiContext } from '../api/optimizer-routes.ts';
import { statsRoute } from '../api/schemas.ts';
import { registerUploadRoutes } from '../api/upload-routes.ts';
import { authenticate, bearerToken } from '../auth/authenticate.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { TelemetryHub } from '../telemetry/hub.ts';
import type { RelayMetrics } from '../metrics/prometheus.ts';
import type { UploadService } from '../uploads/upload-service.ts';

export interface ServerDeps {
  config: RelayConfig;
  tokens: TokenStore;
  api: ApiContext;
  uploads: UploadService;
  /** Listening beyond loopback: ingest then needs a token too. */
  exposed: boolean;
  onIngest(socket: WebSocket): void;
  telemetry: TelemetryHub;
  metrics: RelayMetrics;
  health(): Record<string, unknown>;
  stats(): Record<string, unknown>;
  resetLatency(): void;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.status(status).send({ success: false, error: { code, message } });
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
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
  await app.register(fastifyWebsocket, {
    // The relay enforces config.maxMessageBytes itself, so it can say why before closing;
    // this is only the hard stop for anything larger.
    options: { maxPayload: Math.max(1024 * 1024, config.maxMessageBytes * 4), perMessageDeflate: false },
  });

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

  // Bearer auth for every /api route, loopback included.
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    const scope = req.routeOptions.config?.scope ?? null;
    const result = authenticate(deps.tokens, bearerToken(req.headers, req.url, false), scope);
    if (!result.ok) return sendError(reply, result.status, result.code, result.message);
    req.token = result.token;
  });

  app.get('/healthz', async () => ({ status: 'ok', ...deps.health() }));

  app.get(
    '/ws/ingest',
    {
      websocket: true,
      // A relay reachable beyond loopback takes audio only from token holders (scope "ingest").
      preValidation: async (req, reply) => {
        if (!deps.exposed) return;
        const result = authenticate(deps.tokens, bearerToken(req.headers, req.url, true), 'ingest');
        if (!result.ok) return sendError(reply, result.status, result.code, result.message);
      },
    },
    (socket) => deps.onIngest(socket),
  );

  // Live meters (seed 003): the snapshot and the stream carry the same measurement. Open on a
  // loopback-only relay; beyond loopback they need a read:snapshots token (header or ?token=).
  const telemetryAuth = async (req: import('fastify').FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!deps.exposed) return undefined;
    const result = authenticate(deps.tokens, bearerToken(req.headers, req.url, true), 'read:snapshots');
    if (!result.ok) return sendError(reply, result.status, result.code, result.message);
    return undefined;
  };
  app.get('/measurements', { preValidation: telemetryAuth }, async (req, reply) => {
    const traceId = (req.query as { trace_id?: string }).trace_id ?? null;
    return reply.type('application/json').send(deps.telemetry.measurementJson(traceId));
  });
  app.get('/ws/telemetry', { websocket: true, preValidation: telemetryAuth }, (socket, req) => {
    const q = req.query as { trace_id?: string; spectrum?: string };
    deps.telemetry.addClient(socket, q.trace_id ?? null, q.spectrum ?? null);
  });

  // Prometheus scrape: open on a loopback-only relay, the admin scope beyond it.
  app.get(
    '/metrics',
    {
      preValidation: async (req, reply) => {
        if (!deps.exposed) return;
        const result = authenticate(deps.tokens, bearerToken(req.headers, req.url, false), 'admin');
        if (!result.ok) return sendError(reply, result.status, result.code, result.message);
      },
    },
    async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()),
  );

  registerOptimizerRoutes(app, deps.api);
  registerUploadRoutes(app, deps.uploads);
  // `?reset_latency=1` restarts the latency window after reading it (benchmarks measure windows).
  app.get('/api/relay/stats', { schema: statsRoute, config: { scope: 'read:snapshots' } }, async (req) => {
    const body = { success: true, ...deps.stats() };
    if ((req.query as { reset_latency?: string }).reset_latency === '1') deps.resetLatency();
    return body;
  });
  app.get('/api/openapi.json', { config: { scope: null } }, async () => app.swagger());

  const index = ['200.html', 'index.html'].map((f) => join(config.appDir, f)).find((p) => existsSync(p));
  if (index !== undefined) {
    await app.register(fastifyStatic, { root: config.appDir, wildcard: false, index: ['index.html'] });
  }
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    if (path.startsWith('/api/') || path.startsWith('/ws/') || req.method !== 'GET') {
      return sendError(reply, 404, 'not_found', `no route ${req.method} ${path}`);
    }
    if (index === undefined) {
      return reply
        .status(503)
        .type('text/plain')
        .send('The Tapwire app is not built. Run `npm start` (it builds what is missing) or `npm run build`.\n');
    }
    // Client-side routes (/capture, /listen/<id>, ...) are served by the app shell.
    return reply.type('text/html').sendFile(index.slice(config.appDir.length + 1));
  });

  return app;
}
