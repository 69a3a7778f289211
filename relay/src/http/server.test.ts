/**
 * Every HTTP response carries the cross-origin isolation headers, so the PWA served by the
 * relay is crossOriginIsolated (SharedArrayBuffer for its AudioWorklet ring).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
});

afterAll(async () => {
  await t?.close();
});

describe('cross-origin isolation headers', () => {
  it('are on every response: health, the app shell, API answers and API errors', async () => {
    const responses = await Promise.all([
      fetch(`${t.httpUrl}/healthz`),
      fetch(`${t.httpUrl}/`),
      fetch(`${t.httpUrl}/api/traces/active`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } }),
      fetch(`${t.httpUrl}/api/traces/active`),
      fetch(`${t.httpUrl}/api/nothere`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } }),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, expect.any(Number), 200, 401, 404]);
    for (const r of responses) {
      expect(r.headers.get('cross-origin-opener-policy'), r.url).toBe('same-origin');
      expect(r.headers.get('cross-origin-embedder-policy'), r.url).toBe('require-corp');
      expect(r.headers.get('cross-origin-resource-policy'), r.url).toBe('same-origin');
    }
  });
});
