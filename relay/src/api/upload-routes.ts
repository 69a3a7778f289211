/**
 * The upload routes (protocol/upload.ts): wiring from HTTP to the upload service. Every
 * route needs a token with the `ingest` scope, like the ingest WebSocket beyond loopback.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_UPLOAD_CHUNK_BYTES, type UploadPartRequest } from '../../../protocol/upload.ts';
import type { TokenInfo } from '../auth/token-store.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import type { UploadService } from '../uploads/upload-service.ts';
import * as S from './schemas.ts';

export function registerUploadRoutes(app: FastifyInstance, uploads: UploadService): void {
  // Chunks arrive as raw bytes; the cap is checked on Content-Length and while reading (413).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_CHUNK_BYTES }, (_req, body, done) => done(null, body));

  app.put('/api/uploads/:upload_id', { schema: S.uploadCreateRoute, config: { access: needsToken('ingest') } }, async (req, reply) => {
    const { upload_id: uploadId } = req.params as { upload_id: string };
    const { created, state } = uploads.create(uploadId, req.body as Record<string, unknown>, `token:${(req.token as TokenInfo).id}`, Date.now());
    return reply.status(created ? 201 : 200).send({ success: true, ...state });
  });

  app.put(
    '/api/uploads/:upload_id/packets',
    { schema: S.uploadChunkRoute, config: { access: needsToken('ingest') }, bodyLimit: MAX_UPLOAD_CHUNK_BYTES },
    async (req) => {
      const { upload_id: uploadId } = req.params as { upload_id: string };
      const { first_index: firstIndex } = req.query as { first_index: number };
      if (!Buffer.isBuffer(req.body)) {
        throw new ApiError(415, 'invalid_request', `a chunk is sent as Content-Type: application/octet-stream, not ${req.headers['content-type'] ?? 'no type'}`);
      }
      return { success: true, ...uploads.putChunk(uploadId, firstIndex, req.body, Date.now()) };
    },
  );

  app.post('/api/uploads/:upload_id/parts', { schema: S.uploadPartRoute, config: { access: needsToken('ingest') } }, async (req) => {
    const { upload_id: uploadId } = req.params as { upload_id: string };
    return { success: true, ...(await uploads.processPart(uploadId, req.body as UploadPartRequest, Date.now())) };
  });

  app.get('/api/uploads/:upload_id', { schema: S.uploadStateRoute, config: { access: needsToken('ingest') } }, async (req) => {
    const { upload_id: uploadId } = req.params as { upload_id: string };
    return { success: true, ...uploads.state(uploadId) };
  });
}
