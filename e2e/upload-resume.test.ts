/**
 * The PWA's uploader in real Chromium against a real relay: a capture whose ingest socket is
 * refused (the relay's API stays reachable) records locally; when the socket is let through,
 * the backlog uploads, an upload cut off mid-way resumes where the relay's state says it
 * stopped (the chunks the relay has are not sent again), and asking again sends nothing. A
 * drop in the middle of the session is a second part of the same upload.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadState } from '../protocol/upload.ts';
import { sleep, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn, startAppUnderTest, type AppUnderTest } from './support/app.ts';
import { toneMosaic, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, type Browser } from './support/chromium.ts';
import type { RelayApi } from './support/relay-api.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-resume-'));
const micWav = writeWav(join(dir, 'mosaic.wav'), toneMosaic(10, 3));

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('upload resume (Chromium)', () => {
  let app: AppUnderTest;
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;

  beforeAll(async () => {
    app = await startAppUnderTest(micWav);
    ({ t, browser, api } = app);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes an interrupted upload without resending what the relay has, does not upload twice, and uploads a mid-session drop as a second part', async () => {
    const { page, context } = browser;
    // The ingest socket is refused (closed at once) until `socketOpen`.
    let socketOpen = false;
    let dropLive: (() => Promise<void>) | null = null;
    await context.routeWebSocket(/\/ws\/ingest/, (ws) => {
      if (!socketOpen) {
        void ws.close({ code: 1001, reason: 'refused by the test' });
        return;
      }
      const server = ws.connectToServer();
      dropLive = async () => {
        await ws.close({ code: 1001, reason: 'dropped by the test' });
        await server.close();
      };
    });
    // Every chunk request, and the first try at the chunk from packet 250 fails on the way.
    const chunks: number[] = [];
    let cut = false;
    await context.route(/\/api\/uploads\/[^/]+\/packets/, async (route) => {
      const first = Number(new URL(route.request().url()).searchParams.get('first_index'));
      chunks.push(first);
      if (first === 250 && !cut) {
        cut = true;
        await route.abort('connectionreset');
      } else {
        await route.continue();
      }
    });

    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Capture');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="offline"]').waitFor({ timeout: 15_000 });
    await sleep(8_000);
    socketOpen = true;
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });

    // The backlog (8 s and more: at least two chunks) goes up; the cut chunk is retried on a
    // later pass (the recordings page's "Upload now" asks for one at once).
    const list = await context.newPage();
    await list.goto(`${t.httpUrl}/recordings`);
    const row = list.getByTestId('recording').first();
    const sessionId = (await row.getAttribute('data-session')) as string;
    await waitFor(async () => (cut ? true : undefined), 30_000, 'the cut chunk');
    await list.getByTestId('upload-now').click();
    await waitFor(async () => ((await row.getAttribute('data-trace')) ? true : undefined), 30_000, 'the upload to finish');

    const state = await api.get<UploadState>(`/api/uploads/${sessionId}`);
    expect(state.parts).toHaveLength(1);
    const part = state.parts[0];
    expect(part.first_index).toBe(0);
    expect(part.end_index).toBeGreaterThanOrEqual(400);
    expect(state.packets_received).toBe(part.end_index);
    // Chunk 0 went once; the chunk from 250 twice (cut, then resumed); nothing else repeated.
    expect(chunks.filter((c) => c === 0)).toHaveLength(1);
    expect(chunks.filter((c) => c === 250)).toHaveLength(2);
    expect(new Set(chunks).size).toBe(chunks.length - 1);

    // Asking again sends nothing: the device knows the relay has it all.
    const sent = chunks.length;
    await list.getByTestId('upload-now').click();
    await sleep(1_000);
    expect(chunks.length).toBe(sent);
    expect(await row.getAttribute('data-pending')).toBe('0');

    // The link drops mid-session for 3 s: capture goes on, live streaming resumes as a new
    // station of the same trace, and the gap goes up as a second part of the same upload.
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;
    socketOpen = false;
    await (dropLive as unknown as () => Promise<void>)();
    await page.locator('[data-testid="link-state"][data-state="offline"]').waitFor({ timeout: 10_000 });
    await sleep(3_000);
    socketOpen = true;
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
    const live = await api.trace(traceId);
    expect(live.stations).toHaveLength(2);
    expect(live.stations.filter((s) => s.live)).toHaveLength(1);
    const second = await waitFor(async () => {
      const st = await api.get<UploadState>(`/api/uploads/${sessionId}`);
      return st.parts.length === 2 ? st.parts[1] : undefined;
    }, 40_000, 'the second part');
    // 3 s offline plus the reconnect, and the second before the drop that may have been lost.
    expect(second.end_index - second.first_index).toBeGreaterThanOrEqual(150);
    expect(second.first_index).toBeGreaterThan(part.end_index);
    await list.close();
    await page.getByTestId('capture-toggle').click();
  }, 150_000);
});
