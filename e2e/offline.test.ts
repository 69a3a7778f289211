/**
 * Offline capture and the installed app, in real Chromium against a real relay that is
 * stopped and started again on the same port and data dir:
 *
 * - the app installs: manifest, icons, a service worker that controls the page and serves
 *   the shell while the relay is down;
 * - a capture started with the relay down records locally for 15 s; when the relay comes
 *   back the recording uploads by itself, and the relay's recorded trace has buckets and
 *   segments covering those 15 s whose audio correlates with the microphone's file;
 * - a reload in the middle of a capture loses at most 1 s of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { defaultConfig } from '../relay/src/config.ts';
import { Relay } from '../relay/src/relay.ts';
import { sleep, waitFor } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { bestLoopCorrelation, envelope, RATE, toneMosaic, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-offline-'));
const MOSAIC_SECONDS = 10;
const mosaic = toneMosaic(MOSAIC_SECONDS);
const micWav = writeWav(join(dir, 'mosaic.wav'), mosaic);
const OFFLINE_MS = 15_000;
/** Envelope windows of 10 ms. */
const WINDOW = RATE / 100;

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('offline capture, upload and install (Chromium)', () => {
  const dataDir = join(dir, 'relay-data');
  let relay: Relay | null = null;
  let port = 0;
  let browser: Browser;
  let token = '';
  let base = '';
  /** The trace the offline capture's upload made. */
  let recordedTraceId = '';

  async function startRelay(): Promise<Relay> {
    relay = await Relay.start({ ...defaultConfig(), port, dataDir, appDir: BUILD_DIR, logLevel: 'silent', mediaWorkers: 1, snapshotMinIntervalMs: 0 });
    port = Number(new URL(relay.url).port);
    return relay;
  }

  async function stopRelay(): Promise<void> {
    await relay?.stop();
    relay = null;
  }

  beforeAll(async () => {
    ensureAppBuilt();
    const r = await startRelay();
    token = r.adminToken as string;
    base = r.url;
    browser = await launchChromium({ micWav });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stopRelay();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs: manifest, icons, and a service worker that controls the page and serves the shell without the relay', async () => {
    const { page } = browser;
    await signIn(page, base, token);

    const href = await page.locator('link[rel="manifest"]').getAttribute('href');
    expect(href).toBe('/manifest.webmanifest');
    const manifest = await page.evaluate(async (h) => (await fetch(h as string)).json(), href);
    expect(manifest).toMatchObject({ name: 'Tapwire', display: 'standalone', start_url: '/', theme_color: expect.any(String) });
    const sizes = (manifest.icons as { sizes: string; src: string }[]).map((i) => i.sizes);
    expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
    for (const icon of manifest.icons as { src: string }[]) {
      const type = await page.evaluate(async (src) => (await fetch(src)).headers.get('content-type'), icon.src);
      expect(type).toBe('image/png');
    }

    // The service worker takes control of the page (clientsClaim) once it has precached the shell.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await waitFor(async () => ((await page.evaluate(() => navigator.serviceWorker.controller !== null)) ? true : undefined), 15_000, 'service worker control');

    await stopRelay();
    await page.goto(`${base}/capture`);
    await page.getByRole('heading', { name: 'Capture' }).waitFor();
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    // Still isolated when served from the cache (the precached responses keep their headers).
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    await navigate(page, 'Recordings');
    await page.getByRole('heading', { name: 'Recordings' }).waitFor();
  }, 120_000);

  it('captures 15 s with the relay down, then uploads them by itself as a recorded trace that matches the microphone', async () => {
    const { page } = browser;
    expect(relay).toBeNull();
    await page.goto(`${base}/capture`);
    await page.getByTestId('label').fill('offline-e2e');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="offline"]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('link-state').textContent()).toContain('offline, recording locally');
    await sleep(OFFLINE_MS);
    const backlog = await page.getByTestId('backlog').textContent();
    expect(backlog).toMatch(/\((\d+) packets\)/);
    expect(Number(/\((\d+) packets\)/.exec(backlog as string)?.[1])).toBeGreaterThanOrEqual((OFFLINE_MS / 20) * 0.95);

    await startRelay();
    const api = new RelayApi(base, token);
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 20_000 });

    // The recordings page (a second tab, so the capture goes on) shows the upload's trace.
    const list = await browser.context.newPage();
    await list.goto(`${base}/recordings`);
    const row = list.getByTestId('recording').first();
    const traceId = await waitFor(async () => (await row.getAttribute('data-trace')) || undefined, 40_000, 'the upload to finish');
    const startedAt = Number(await row.getAttribute('data-started'));
    await list.close();
    recordedTraceId = traceId;

    const trace = await api.trace(traceId);
    expect(trace.kind).toBe('recorded');
    expect(trace.active).toBe(false);
    const active = await api.get<{ active: { trace_id: string }[] }>('/api/traces/active');
    expect(active.active.map((a) => a.trace_id)).not.toContain(traceId);

    // The upload's last bucket may be the one the wall clock is in: snapshots show it once it
    // is complete by the clock (end + grace), like any bucket.
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length > 0 && Date.parse(b[b.length - 1].bucket_ts) + 5000 >= startedAt + OFFLINE_MS ? b : undefined;
    }, 15_000, 'buckets covering the offline stretch');
    const first = Date.parse(buckets[0].bucket_ts);
    const last = Date.parse(buckets[buckets.length - 1].bucket_ts) + 5000;
    // Buckets sit at the capture times and cover the offline stretch.
    expect(first).toBeLessThanOrEqual(startedAt);
    expect(first).toBeGreaterThan(startedAt - 5000);
    expect(last).toBeGreaterThanOrEqual(startedAt + OFFLINE_MS);
    const frames = buckets.reduce((n, b) => n + b.metrics.PRE['pcm.rms_dbfs']!.count, 0);
    expect(frames * 20).toBeGreaterThanOrEqual(OFFLINE_MS);

    // The segments laid end to end, from the capture start, hold the file's audio.
    const timeline = new Float32Array(((last - first) / 1000) * RATE);
    for (const b of buckets) {
      const pre = await api.segment(b.audio.PRE.endpoint);
      timeline.set(pre, ((Date.parse(b.bucket_ts) - first) / 1000) * RATE);
    }
    const from = Math.round(((startedAt - first) / 1000) * RATE) + RATE / 10;
    const recorded = timeline.subarray(from, from + ((OFFLINE_MS - 500) / 1000) * RATE);
    const { r } = bestLoopCorrelation(envelope(recorded, WINDOW), envelope(mosaic, WINDOW));
    console.log(`offline upload: ${buckets.length} buckets, ${frames} frames, envelope correlation with the file ${r.toFixed(3)}`);
    expect(r).toBeGreaterThan(0.9);
  }, 180_000);

  it('a reload in the middle of a capture loses at most 1 s', async () => {
    const { page } = browser;
    // The capture of the test before is still running, live now; reload mid-capture.
    await page.getByTestId('capture-toggle').getByText('Stop').waitFor();
    await sleep(3_000);
    const reloadAt = await page.evaluate(() => Date.now());
    await page.reload();
    await navigate(page, 'Recordings');
    const row = page.getByTestId('recording').first();
    // The tab that held the capture is gone: the next upload pass marks the session ended.
    await waitFor(async () => ((await row.getAttribute('data-state')) === 'ended' ? true : undefined), 30_000, 'the session to be marked ended');
    const packets = Number(await row.getAttribute('data-packets'));
    const startedAt = Number(await row.getAttribute('data-started'));
    const lostMs = reloadAt - startedAt - packets * 20;
    console.log(`reload: recorded ${packets * 20} ms of ${reloadAt - startedAt} ms, lost ${lostMs} ms`);
    expect(lostMs).toBeLessThanOrEqual(1000);
    expect(lostMs).toBeGreaterThan(-200);
  }, 120_000);

  it('lists the recording with nothing left to upload, plays it back locally and deletes it', async () => {
    const { page } = browser;
    const row = page.getByTestId('recording').first();
    // Whatever the relay may have missed when the tab went away has gone up too.
    await waitFor(async () => ((await row.getAttribute('data-pending')) === '0' ? true : undefined), 30_000, 'nothing pending');
    expect(await row.getByTestId('upload-state').textContent()).toMatch(/^uploaded/);
    const packets = Number(await row.getAttribute('data-packets'));

    // Local playback: an Ogg Opus file made from the stored packets, decoded by the browser.
    await row.getByRole('button', { name: 'Play' }).click();
    const duration = await row.locator('audio').evaluate(
      (a: HTMLAudioElement) =>
        new Promise<number>((resolve, reject) => {
          if (Number.isFinite(a.duration) && a.duration > 0) resolve(a.duration);
          a.addEventListener('loadedmetadata', () => resolve(a.duration));
          a.addEventListener('error', () => reject(new Error(`audio error ${a.error?.code}`)));
        }),
    );
    expect(Math.abs(duration - packets * 0.02)).toBeLessThan(0.1);

    const before = await page.getByTestId('recording').count();
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await waitFor(async () => ((await page.getByTestId('recording').count()) === before - 1 ? true : undefined), 10_000, 'the row to go');
  }, 60_000);

  it('finds the recorded trace by its label in the monitor\'s past traces, and opens its page', async () => {
    const { page } = browser;
    expect(recordedTraceId).not.toBe('');
    await page.goto(`${base}/monitor`);
    await page.getByTestId('trace-search-label').fill('offline-e2e');
    const row = page.locator(`[data-testid="trace-row"][data-trace-id="${recordedTraceId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-kind')).toBe('recorded');
    expect(await row.getAttribute('data-active')).toBe('false');
    // Every row found has a station with the label (the capture went on live after the upload).
    const labels = await page.getByTestId('trace-row-labels').allTextContents();
    expect(labels.every((l) => l.includes('offline-e2e')), labels.join(' | ')).toBe(true);
    await row.getByTestId('trace-row-link').click();
    await page.waitForURL((u) => u.pathname === `/monitor/${recordedTraceId}`, { timeout: 10_000 });
  }, 30_000);
});
