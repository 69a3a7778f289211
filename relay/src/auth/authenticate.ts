/**
 * Who is calling: the bearer token of a request (the `Authorization` header, or `?token=`
 * where a header cannot be set, as on a browser WebSocket), checked against the store.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { grants, type Scope } from './scopes.ts';
import type { TokenInfo, TokenStore } from './token-store.ts';

/** A refusal names its code; its HTTP status comes from protocol/errors.ts (401, 403). */
export type AuthResult = { ok: true; token: TokenInfo } | { ok: false; code: 'unauthorized' | 'forbidden'; message: string };

/** The header's token, else `queryToken` (taken only on routes that allow it); null for none. */
export function bearerToken(headers: IncomingHttpHeaders, queryToken: string | null = null): string | null {
  const h = headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : null;
  }
  return queryToken;
}

export function authenticate(tokens: TokenStore, token: string | null, scope: Scope | null): AuthResult {
  if (token === null) {
    return { ok: false, code: 'unauthorized', message: 'send a token: Authorization: Bearer <token> (see README, "Tokens")' };
  }
  const info = tokens.verify(token);
  if (info === null) return { ok: false, code: 'unauthorized', message: 'the token is unknown or revoked' };
  if (scope !== null && !grants(info.scopes, scope)) {
    return { ok: false, code: 'forbidden', message: `this token lacks the "${scope}" scope (it has: ${info.scopes.join(', ')})` };
  }
  return { ok: true, token: info };
}

/** The loopback addresses (README): 127.0.0.1 and ::1, nothing else of 127.0.0.0/8. */
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * True when every socket the relay actually bound is on loopback (then ingest and live
 * meters need no token). Decided from the bound addresses, not the configured name:
 * `localhost` binds 127.0.0.1 and ::1; 127.0.0.2 or 0.0.0.0 is exposed.
 */
export function isLoopbackOnly(boundAddresses: readonly string[]): boolean {
  return boundAddresses.length > 0 && boundAddresses.every((a) => LOOPBACK.has(a));
}
