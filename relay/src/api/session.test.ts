/**
 * `GET /api/session` on a real relay: any valid token learns who it is (id, label, scopes,
 * creation time) and never its secret; a missing, unknown or revoked token gets the 401
 * envelope every token route answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../../protocol/session.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(async () => {
  await t?.close();
});

async function session(authorization?: string): Promise<{ status: number; text: string; json: any }> {
  const r = await fetch(`${t.httpUrl}/api/session`, { headers: authorization === undefined ? {} : { authorization } });
  const text = await r.text();
  return { status: r.status, text, json: JSON.parse(text) };
}

function expectUnauthorized(res: { status: number; json: any }, what: string): void {
  expect(res.status, what).toBe(401);
  expect(res.json, what).toEqual({ success: false, error: { code: 'unauthorized', message: expect.any(String) } });
  expect(res.json.error.message.length, what).toBeGreaterThan(5);
}

describe('GET /api/session', () => {
  it('describes the admin token: every scope, its id, label and creation time, not the secret', async () => {
    const admin = t.relay.adminToken as string;
    const before = Date.now();
    const res = await session(`Bearer ${admin}`);
    expect(res.status, res.text).toBe(200);
    const listed = t.relay.tokens.list();
    expect(listed).toHaveLength(1);
    expect(res.json).toEqual({
      success: true,
      token: { id: listed[0].id, label: 'admin (first start)', scopes: [...SCOPES], created_at: new Date(listed[0].created_at).toISOString() },
    });
    expect(Date.parse(res.json.token.created_at)).toBeLessThanOrEqual(before);
    expect(res.text.includes(admin)).toBe(false);
  });

  it('describes a narrower token with its own scopes and label', async () => {
    const { id, token } = t.relay.tokens.create(['read:snapshots'], 'wall display');
    const res = await session(`Bearer ${token}`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.token).toMatchObject({ id, label: 'wall display', scopes: ['read:snapshots'] });
    expect(res.json.token.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(res.text.includes(token)).toBe(false);

    const unlabelled = t.relay.tokens.create(['ingest', 'write:knobs']);
    const res2 = await session(`Bearer ${unlabelled.token}`);
    expect(res2.json.token).toMatchObject({ id: unlabelled.id, label: null, scopes: ['ingest', 'write:knobs'] });
  });

  it('refuses a revoked token that worked before with 401', async () => {
    const { id, token } = t.relay.tokens.create(['read:snapshots', 'write:knobs'], 'to revoke');
    expect((await session(`Bearer ${token}`)).status).toBe(200);
    expect(t.relay.tokens.revoke(id)).toBe(true);
    const res = await session(`Bearer ${token}`);
    expectUnauthorized(res, 'revoked');
    expect(res.json.error.message).toMatch(/unknown or revoked/);
  });

  it('refuses no token, an unknown token and a malformed header with 401', async () => {
    const none = await session();
    expectUnauthorized(none, 'no token');
    expect(none.json.error.message).toMatch(/Bearer/);
    expectUnauthorized(await session('Bearer tw_thisisnotatokenthisisnotatoken'), 'unknown token');
    expectUnauthorized(await session(`Basic ${Buffer.from(`x:${t.relay.adminToken}`).toString('base64')}`), 'basic auth');
    expectUnauthorized(await session(t.relay.adminToken as string), 'without "Bearer"');
  });
});
