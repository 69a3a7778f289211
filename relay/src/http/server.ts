/**
 * The HTTP server: health, the ingest WebSocket, the REST API and the built PWA, on one
 * origin. Routes only wire requests to the components that do the work.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { KNOBS } from '../../../protocol/knobs.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';

export interface ServerDeps {
  config: RelayConfig;
  onIngest(socket: WebSocket): void;
  health(): Record<string, unknown>;
  stats(): Record<string, unknown>;
  resetLatency(): void;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
  });

  await app.register(fastifyWebsocket, {
    // The relay enforces config.maxMessageBytes itself, so it can say why before closing;
    // this is only the hard stop for anything larger.
    options: { maxPayload: Math.max(1024 * 1024, config.maxMessageBytes * 4), perMessageDeflate: false },
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ApiError) {
      void reply.status(err.status).send({ success: false, error: { code: err.code, message: err.message } });
      return;
    }
    const e = err as { statusCode?: number; message?: string };
    const status = e.statusCode ?? 500;
    if (status >= 500) app.log.error(err);
    const message = status >= 500 ? 'internal error' : (e.message ?? 'bad request');
    void reply.status(status).send({ success: false, error: { code: status >= 500 ? 'internal' : 'bad_request', message } });
  });

  app.get('/healthz', async () => ({ status: 'ok', ...deps.health() }));

  app.get('/ws/ingest', { websocket: true }, (socket) => deps.onIngest(socket));

  app.get('/api/optimizer/knobs', async () => ({ success: true, knobs: KNOBS }));
  // `?reset_latency=1` restarts the latency window after reading it (benchmarks measure windows).
  app.get<{ Querystring: { reset_latency?: string } }>('/api/relay/stats', async (req) => {
    const body = { success: true, ...deps.stats() };
    if (req.query.reset_latency === '1') deps.resetLatency();
    return body;
  });

  const index = ['200.html', 'index.html'].map((f) => join(config.appDir, f)).find((p) => existsSync(p));
  if (index !== undefined) {
    await app.register(fastifyStatic, { root: config.appDir, wildcard: false, index: ['index.html'] });
  }
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    if (path.startsWith('/api/') || path.startsWith('/ws/') || req.method !== 'GET') {
      void reply.status(404).send({ success: false, error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
      return;
    }
    if (index === undefined) {
      void reply
        .status(503)
        .type('text/plain')
        .send('The Tapwire app is not built. Run `npm start` (it builds what is missing) or `npm run build`.\n');
      return;
    }
    // Client-side routes (/capture, /listen/<id>, ...) are served by the app shell.
    void reply.type('text/html').sendFile(index.slice(config.appDir.length + 1));
  });

  return app;
}
