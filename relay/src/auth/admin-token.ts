/**
 * The first start's admin token: when the store holds no token, the relay creates one with
 * every scope and writes it to `<data dir>/admin-token` (mode 0600), like Jupyter's token:
 * the local user signs in with the link the relay prints, nobody else can read the file.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCOPES } from './scopes.ts';
import type { TokenStore } from './token-store.ts';

export const ADMIN_TOKEN_FILE = 'admin-token';

/** Returns the admin token from the file (creating it on a first start), or null if there is none to read. */
export function ensureAdminToken(dataDir: string, tokens: TokenStore): { token: string | null; path: string; created: boolean } {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  if (tokens.count() === 0) {
    const { token } = tokens.create([...SCOPES], 'admin (first start)');
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    return { token, path, created: true };
  }
  if (!existsSync(path)) return { token: null, path, created: false };
  const token = readFileSync(path, 'utf8').trim();
  // A file whose token was revoked signs nobody in.
  return { token: tokens.verify(token) ? token : null, path, created: false };
}
