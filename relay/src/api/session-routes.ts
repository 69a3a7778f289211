/**
 * `GET /api/session` (protocol/session.ts): who the presented token is. Any valid token may
 * ask; the access check has already refused a missing, unknown or revoked one with 401, so
 * the handler only describes `req.token`. The secret is never sent: the store has only its hash.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { SessionResponse } from '../../../protocol/session.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import { isoOf } from '../time/bucket-clock.ts';
import { sessionRoute } from './schemas.ts';

export function registerSessionRoutes(server: FastifyInstance): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/api/session', { schema: sessionRoute, config: { access: needsToken(null) } }, async (req): Promise<SessionResponse> => {
    const t = req.token;
    // needsToken(null) sets it on every request it lets through.
    if (t === undefined) throw new ApiError('internal', 'the access check passed no token to GET /api/session');
    return { success: true, token: { id: t.id, label: t.label, scopes: [...t.scopes], created_at: isoOf(t.created_at) } };
  });
}
