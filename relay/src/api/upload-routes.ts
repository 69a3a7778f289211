/**
 * The upload routes (protocol/upload.ts): wiring from HTTP to the upload service. Every
 * route needs a token with the `ingest` scope, like the ingest WebSocket beyond loopback.
 * Requests arrive checked against protocol/upload.ts's schemas and typed.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_UPLOAD_CHUNK_BYTES } from '../../../protocol/upload.ts';
import type { TokenInfo } from '../auth/token-store.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import type { UploadService } from '../uploads/upload-service.ts';
import * as S from './schemas.ts';

export function registerUploadRoutes(server: FastifyInstance, uploads: UploadService): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  // Chunks arrive as raw bytes; the cap is checked on Content-Length and while reading (413).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_CHUNK_BYTES }, (_req, body, done) => done(null, body));

  app.put('/api/uploads/:upload_id', { schema: S.uploadCreateRoute, config: { access: needsToken('ingest') } }, async (req, reply) => {
    const { created, state } = uploads.create(req.params.upload_id, req.body, `token:${(req.token as TokenInfo).id}`, Date.now());
    return reply.status(created ? 201 : 200).send({ success: true, ...state });
  });

  app.put(
    '/api/uploads/:upload_id/packets',
    { schema: S.uploadChunkRoute, config: { access: needsToken('ingest') }, bodyLimit: MAX_UPLOAD_CHUNK_BYTES },
    async (req) => {
      // The only body this route's parser yields as bytes is application/octet-stream.
      if (!Buffer.isBuffer(req.body)) {
        throw new ApiError('unsupported_media_type', `a chunk is sent as Content-Type: application/octet-stream, not ${req.headers['content-type'] ?? 'no type'}`);
      }
      return { success: true as const, ...uploads.putChunk(req.params.upload_id, req.query.first_index, req.body, Date.now()) };
    },
  );

  app.post('/api/uploads/:upload_id/parts', { schema: S.uploadPartRoute, config: { access: needsToken('ingest') } }, async (req) => ({
    success: true as const,
    ...(await uploads.processPart(req.params.upload_id, req.body, Date.now())),
  }));

  app.get('/api/uploads/:upload_id', { schema: S.uploadStateRoute, config: { access: needsToken('ingest') } }, async (req) => ({
    success: true as const,
    ...uploads.state(req.params.upload_id),
  }));
}
