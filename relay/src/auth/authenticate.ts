/**
 * Who is calling: the bearer token of a request (the `Authorization` header, or `?token=`
 * where a header cannot be set, as on a browser WebSocket), checked against the store.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Scope } from './scopes.ts';
import type { TokenInfo, TokenStore } from './token-store.ts';

export type AuthResult = { ok: true; token: TokenInfo } | { ok: false; status: 401 | 403; code: 'unauthorized' | 'forbidden'; message: string };

export function bearerToken(headers: IncomingHttpHeaders, url: string, allowQuery: boolean): string | null {
  const h = headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : null;
  }
  if (allowQuery) {
    const q = url.indexOf('?');
    if (q >= 0) return new URLSearchParams(url.slice(q + 1)).get('token');
  }
  return null;
}

export function authenticate(tokens: TokenStore, token: string | null, scope: Scope | null): AuthResult {
  if (token === null) {
    return { ok: false, status: 401, code: 'unauthorized', message: 'send a token: Authorization: Bearer <token> (see README, "Tokens")' };
  }
  const info = tokens.verify(token);
  if (info === null) return { ok: false, status: 401, code: 'unauthorized', message: 'the token is unknown or revoked' };
  if (scope !== null && !info.scopes.includes(scope) && !info.scopes.includes('admin')) {
    return { ok: false, status: 403, code: 'forbidden', message: `this token lacks the "${scope}" scope (it has: ${info.scopes.join(', ')})` };
  }
  return { ok: true, token: info };
}

/** True when the relay listens on loopback only (then ingest and telemetry need no token). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
