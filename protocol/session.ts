/**
 * `GET /api/session`: who the presented bearer token is. Its id, label, scopes and creation
 * time, never its secret (the store keeps only its hash). The app asks it once it holds a
 * token, to say whether the relay accepts it and what the pages may offer.
 */
import * as T from './schema.ts';

/** Bearer token scopes (seed 000 §9, plus what Tapwire adds): what a token may do. */
export const SCOPES = ['read:snapshots', 'read:audio', 'write:knobs', 'ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Whether a token with `scopes` may do what `scope` names: `admin` grants every scope. */
export function grants(scopes: readonly Scope[], scope: Scope): boolean {
  return scopes.includes(scope) || scopes.includes('admin');
}

export const SessionToken = T.Object({
  id: T.String({ description: 'tok_...: names the token (e.g. to revoke it with `npm run token`); not the secret' }),
  label: T.Nullable(T.String(), 'the label it was created with, or null'),
  scopes: T.Array(T.Enum([...SCOPES]), { description: 'what it may do; admin grants every scope' }),
  created_at: T.IsoTimestamp(),
});
export type SessionToken = T.Static<typeof SessionToken>;

export const SessionResponse = T.Object({ success: T.SuccessTrue, token: SessionToken });
export type SessionResponse = T.Static<typeof SessionResponse>;
