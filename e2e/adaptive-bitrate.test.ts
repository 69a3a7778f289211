/**
 * The capture page's adaptive bitrate over WebSocket, in real Chromium against a real relay.
 *
 * A real relay reports backpressure only when a sender runs ahead of real time, which a
 * microphone cannot. So the test stands in the network path: Playwright's WebSocket route
 * passes every message between the page and the real relay, counts the Opus bytes the page
 * sends, and adds the relay's own `status` message (protocol/ingest.ts) saying
 * `backpressure`. What is checked is everything after that message: the page lowers its
 * bitrate step by step to the 12 kbps floor, logs each change, and the encoder worker
 * changes bitrate live: the bytes on the wire fall to match, with no packet missing and the
 * relay's station carrying on (no restart, every 20 ms accounted for).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame } from '../protocol/frame.ts';
import type { StatusMessage } from '../protocol/ingest.ts';
import { waitFor } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn, startAppUnderTest, type AppUnderTest } from './support/app.ts';
import { toneMosaic, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium } from './support/chromium.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-abr-'));
// Tones of changing pitch and level: audio Opus cannot code in a few bits at any bitrate.
const micWav = writeWav(join(dir, 'mosaic.wav'), toneMosaic(10));

/** What the route saw the page send: each Opus packet's sequence, payload size and arrival. */
interface Sent {
  sequence: number;
  bytes: number;
  atMs: number;
}

/** Opus payload bitrate over the packets sent in [fromMs, toMs), from their count (20 ms each), bits/s. */
function bitrateOf(sent: Sent[], fromMs: number, toMs: number): { bps: number; packets: number } {
  const inside = sent.filter((s) => s.atMs >= fromMs && s.atMs < toMs);
  const bytes = inside.reduce((a, s) => a + s.bytes, 0);
  return { bps: inside.length > 0 ? (bytes * 8) / (inside.length * 0.02) : 0, packets: inside.length };
}

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('adaptive capture bitrate over WebSocket (Chromium, real relay)', () => {
  let app: AppUnderTest;

  beforeAll(async () => {
    app = await startAppUnderTest(micWav);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
  });

  it('lowers the encoder bitrate live, step by step to 12 kbps, when the relay reports backpressure', async () => {
    const { t, browser, api } = app;
    const { page } = browser;
    const sent: Sent[] = [];
    let toPage: WebSocketRoute | null = null;
    await page.routeWebSocket(/\/ws\/ingest/, (ws) => {
      toPage = ws;
      const relay = ws.connectToServer();
      ws.onMessage((m) => {
        if (typeof m !== 'string') {
          const f = decodeFrame(new Uint8Array(m));
          if (f.ok) sent.push({ sequence: f.header.sequence, bytes: f.payload.length, atMs: Date.now() });
        }
        relay.send(m);
      });
      relay.onMessage((m) => ws.send(m));
      ws.onClose((code, reason) => relay.close({ code, reason }));
      relay.onClose((code, reason) => ws.close({ code, reason }));
    });

    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Capture');
    await page.getByTestId('transport-websocket').check();
    await page.getByTestId('bitrate-choice').selectOption('64000');
    expect(await page.getByTestId('adaptive-bitrate').isChecked()).toBe(true);
    await page.getByTestId('label').fill('e2e-abr');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;
    const stationKey = (await api.trace(traceId)).stations[0].station_key;
    expect(await page.getByTestId('bitrate').getAttribute('data-value')).toBe('64000');

    // Three seconds at the chosen rate.
    const beforeFrom = Date.now() + 500;
    await page.waitForTimeout(3500);
    const beforeTo = Date.now();
    const before = bitrateOf(sent, beforeFrom, beforeTo);

    // The relay's backpressure message, as it sends it (at most once a second), for 9 s:
    // cuts at 0, 2, 4, 6 and 8 s (one per 2 s hold) take 64 kbps to the 12 kbps floor.
    const status: StatusMessage = { type: 'status', state: 'backpressure', station_key: stationKey, dropped_frames: 12, queue_depth: 48 };
    for (let i = 0; i < 9; i++) {
      toPage!.send(JSON.stringify(status));
      await page.waitForTimeout(1000);
    }
    await page.locator('[data-testid="bitrate"][data-value="12000"]').waitFor({ timeout: 5000 });
    toPage!.send(JSON.stringify({ ...status, state: 'ok' }));
    expect(await page.getByTestId('relay-status').textContent()).toBe('ok');

    const log = (await page.getByTestId('bitrate-log').locator('li').allTextContents()).map((l) => l.replace(/^\S+ /, ''));
    expect(log).toEqual([
      'Bitrate: 64 → 44.8 kbps (relay backpressure)',
      'Bitrate: 44.8 → 31.4 kbps (relay backpressure)',
      'Bitrate: 31.4 → 22 kbps (relay backpressure)',
      'Bitrate: 22 → 15.4 kbps (relay backpressure)',
      'Bitrate: 15.4 → 12 kbps (relay backpressure)',
    ]);

    // Three seconds at the floor (the cooldown keeps it there for 10 s).
    const afterFrom = Date.now() + 200;
    await page.waitForTimeout(3200);
    const after = bitrateOf(sent, afterFrom, Date.now());
    console.log(`adaptive bitrate: Opus payload ${(before.bps / 1000).toFixed(1)} kbps over ${before.packets} packets at 64 kbps; ${(after.bps / 1000).toFixed(1)} kbps over ${after.packets} packets after the cuts to 12 kbps`);
    expect(before.packets).toBeGreaterThan(100);
    expect(after.packets).toBeGreaterThan(100);
    // libopus's VBR lands near its target on this signal.
    expect(before.bps).toBeGreaterThan(45_000);
    expect(after.bps).toBeLessThan(16_000);
    expect(after.bps).toBeGreaterThan(8_000);

    // The encoder changed rate without a restart: one numbering, no packet missing or repeated.
    const seqs = sent.map((s) => s.sequence);
    for (let i = 1; i < seqs.length; i++) expect((seqs[i] - seqs[i - 1] + 65536) % 65536, `packet after ${seqs[i - 1]}`).toBe(1);

    // The relay took every packet: a bucket that spans the cuts is whole.
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length >= 3 ? b : undefined;
    }, 20_000, 'three complete buckets');
    for (const b of buckets.slice(1)) expect(b.metrics.PRE['pcm.rms_dbfs']!.count).toBe(250);

    await page.getByTestId('capture-toggle').click();
    await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
  }, 120_000);
});
