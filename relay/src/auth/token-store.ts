/**
 * API tokens, kept in the store as SHA-256 hashes: a stolen database gives no usable token.
 * A token is shown once, when it is created.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Scope } from './scopes.ts';
import { prepared } from '../store/prepared.ts';

export interface TokenInfo {
  id: string;
  scopes: Scope[];
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

interface Row {
  id: string;
  hash: string;
  scopes: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

export class TokenStore {
  constructor(private readonly db: Database.Database) {}

  /** Creates a token; the secret is returned here and never stored. */
  create(scopes: Scope[], label: string | null = null): { id: string; token: string } {
    const id = `tok_${randomBytes(6).toString('hex')}`;
    const token = `tw_${randomBytes(32).toString('base64url')}`;
    prepared(this.db, 'INSERT INTO tokens (id, hash, scopes, label, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)')
      .run(id, hash(token), scopes.join(','), label, Date.now());
    return { id, token };
  }

  /**
   * The token's id and scopes, or null when it is unknown or revoked.
   *
   * Looked up by its SHA-256 through the UNIQUE index on `hash`, with no constant-time
   * comparison, and none is needed: the index's timing can at most reveal part of a stored
   * *hash*, and even a whole stored hash (as a stolen database gives) does not yield the
   * token, a 256-bit random secret behind a preimage-resistant hash. (Selecting by a public
   * id and then comparing in constant time needs that id inside the token; `tw_` tokens
   * carry none, the `tok_` id is separate, so it would take a new token format.)
   */
  verify(token: string): TokenInfo | null {
    if (token.length < 8 || token.length > 200) return null;
    const row = prepared(this.db, 'SELECT * FROM tokens WHERE hash = ?').get(hash(token)) as Row | undefined;
    if (row === undefined || row.revoked_at !== null) return null;
    return toInfo(row);
  }

  /** Revokes by id or by the token itself; false when there was nothing to revoke. */
  revoke(idOrToken: string): boolean {
    const r = prepared(this.db, 'UPDATE tokens SET revoked_at = ? WHERE (id = ? OR hash = ?) AND revoked_at IS NULL').run(Date.now(), idOrToken, hash(idOrToken));
    return r.changes > 0;
  }

  list(): TokenInfo[] {
    return (prepared(this.db, 'SELECT * FROM tokens ORDER BY created_at').all() as Row[]).map(toInfo);
  }

  count(): number {
    return (prepared(this.db, 'SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  }
}

function toInfo(r: Row): TokenInfo {
  return { id: r.id, scopes: r.scopes.split(',') as Scope[], label: r.label, created_at: r.created_at, revoked_at: r.revoked_at };
}
