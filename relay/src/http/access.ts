/**
 * Who may use a route. Every route declares its access in its config (`config.access`), and
 * the decision is taken on the route the router matched, after it decoded and normalized
 * the URL: a route is protected by what it is, never by how its URL was spelled
 * (`/%61pi/...`, absolute-form request lines and the like reach the same check). A route
 * that declares no access is a startup error, not an open door.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../../../protocol/errors.ts';
import { authenticate, bearerToken, type AuthResult } from '../auth/authenticate.ts';
import { SCOPES, type Scope } from '../auth/scopes.ts';
import type { TokenInfo, TokenStore } from '../auth/token-store.ts';
import { carriesForwardingHeaders } from './trusted-proxies.ts';

export type RouteAccess =
  /** Anyone: the health check, the app shell. */
  | { kind: 'public' }
  /** A bearer token with `scope` (null: any valid token), loopback included (seed 000 §9). */
  | { kind: 'token'; scope: Scope | null; tokenInQuery?: boolean }
  /**
   * No token on a relay bound to loopback only (a local user streams and watches with no
   * set-up); beyond loopback, a token with `scope`.
   */
  | { kind: 'token-beyond-loopback'; scope: Scope; tokenInQuery?: boolean };

export const PUBLIC: RouteAccess = { kind: 'public' };

/** A route that needs a token with `scope`; `tokenInQuery` where a browser cannot set a header (WebSockets). */
export function needsToken(scope: Scope | null, opts: { tokenInQuery?: boolean } = {}): RouteAccess {
  return { kind: 'token', scope, ...opts };
}

export function openOnLoopback(scope: Scope, opts: { tokenInQuery?: boolean } = {}): RouteAccess {
  return { kind: 'token-beyond-loopback', scope, ...opts };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may use the route: required on every route (see access.ts). */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The caller's token, when the route took one. */
    token?: TokenInfo;
  }
}

export interface DeclaredRoute {
  method: string;
  url: string;
  access: RouteAccess;
  websocket: boolean;
}

export interface AccessDeps {
  tokens: TokenStore;
  /**
   * False only once the relay is known to be bound to loopback alone, with no trusted proxy
   * (fail closed before). A request that names a forwarded client counts as exposed whatever this says.
   */
  exposed(): boolean;
  /** Answers a refusal in the API's error envelope, with its code's status (protocol/errors.ts). */
  refuse(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply;
}

function isRouteAccess(a: unknown): a is RouteAccess {
  if (typeof a !== 'object' || a === null) return false;
  const r = a as { kind?: unknown; scope?: unknown };
  if (r.kind === 'public') return true;
  const knownScope = typeof r.scope === 'string' && (SCOPES as readonly string[]).includes(r.scope);
  if (r.kind === 'token') return r.scope === null || knownScope;
  return r.kind === 'token-beyond-loopback' && knownScope;
}

/**
 * Installs the check on every route registered after it, and returns the list of declared
 * routes (for the auth matrix tests and the security documentation).
 */
export function installAccessControl(app: FastifyInstance, deps: AccessDeps): DeclaredRoute[] {
  const declared: DeclaredRoute[] = [];
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!isRouteAccess(access)) {
      throw new TypeError(
        `route ${methods.join(',')} ${route.url} declares no access: set config.access (PUBLIC, needsToken(scope) or openOnLoopback(scope)) so that it says who may use it`,
      );
    }
    const websocket = route.websocket === true || route.wsHandler !== undefined;
    for (const method of methods) declared.push({ method, url: route.url, access, websocket });
  });

  app.addHook('onRequest', async (req, reply) => {
    // No route matched: the not-found handler answers 404 (or the app shell) and reveals nothing.
    if (req.is404) return;
    const access = req.routeOptions.config.access;
    if (access === undefined) return deps.refuse(reply, 'internal', 'route without an access declaration');
    const result = decide(access, req, deps);
    if (result === null) return;
    if (!result.ok) return deps.refuse(reply, result.code, result.message);
    req.token = result.token;
  });
  return declared;
}

/**
 * null: allowed without a token; otherwise the token check's result. On a loopback-only
 * relay an open route needs no token from a request that names no forwarded client: a valid
 * one presented there names the client (fair retention counts by it), any other is ignored,
 * so a device holding a token from an earlier data dir still streams locally.
 */
function decide(access: RouteAccess, req: FastifyRequest, deps: AccessDeps): AuthResult | null {
  if (access.kind === 'public') return null;
  const token = bearerToken(req.headers, access.tokenInQuery === true ? tokenFromQuery(req) : null);
  // A proxy on this machine makes every client look local: a forwarded request needs its token.
  if (access.kind === 'token-beyond-loopback' && !deps.exposed() && !carriesForwardingHeaders(req.headers)) {
    const known = token === null ? null : authenticate(deps.tokens, token, null);
    return known?.ok === true ? known : null;
  }
  return authenticate(deps.tokens, token, access.scope);
}

function tokenFromQuery(req: FastifyRequest): string | null {
  const q = req.query as Record<string, unknown> | undefined;
  const t = q?.token;
  return typeof t === 'string' ? t : null;
}
