import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../store/store.ts';
import { TokenStore } from './token-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-tokens-'));
const store = new Store(join(dir, 'relay.db'));
const tokens = new TokenStore(store.db);
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TokenStore', () => {
  it('verifies a created token with its scopes, and nothing else', () => {
    const { id, token } = tokens.create(['ingest', 'read:audio'], 'mic');
    expect(token).toMatch(/^tw_[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(token)).toMatchObject({ id, scopes: ['ingest', 'read:audio'], label: 'mic', revoked_at: null });
    expect(tokens.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    expect(tokens.verify('tw_short')).toBeNull();
    expect(tokens.verify('')).toBeNull();
    expect(tokens.verify(`tw_${'x'.repeat(300)}`)).toBeNull();
  });

  it('keeps accepting a token stored as the hex SHA-256 of the token (every token issued so far)', () => {
    const token = 'tw_issued-before-this-change-aaaaaaaaaaaaaaaaaaaaa';
    store.db
      .prepare('INSERT INTO tokens (id, hash, scopes, label, created_at, revoked_at) VALUES (?, ?, ?, NULL, ?, NULL)')
      .run('tok_0123456789ab', createHash('sha256').update(token).digest('hex'), 'read:snapshots', 1);
    expect(tokens.verify(token)?.id).toBe('tok_0123456789ab');
  });

  it('stops verifying a token revoked by id or by the token itself', () => {
    const a = tokens.create(['ingest']);
    const b = tokens.create(['ingest']);
    expect(tokens.revoke(a.id)).toBe(true);
    expect(tokens.revoke(b.token)).toBe(true);
    expect(tokens.verify(a.token)).toBeNull();
    expect(tokens.verify(b.token)).toBeNull();
    expect(tokens.revoke(a.id)).toBe(false);
  });
});
