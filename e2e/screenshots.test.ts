/**
 * The README's pictures of the monitor, taken from a real relay with live stations: three
 * stations of one trace (speech, quiet speech that an operator turns up, a clipping line),
 * `/monitor` with the first in focus, then `/monitor/<trace_id>` once the knob change is
 * verified. The test checks the pages show what the pictures are meant to show; the PNGs go
 * to `TAPWIRE_SCREENSHOTS_DIR` (the README's are made with `docs/screenshots`) or to a
 * temporary directory.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clippedSine, espeakSpeech, speechLike } from '../relay/src/audio/signals.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { RATE } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const VIEWPORT = { width: 1280, height: 960 };
/** The README's pictures wait for a longer history than the check needs. */
const FOR_README = process.env.TAPWIRE_SCREENSHOTS_DIR !== undefined && process.env.TAPWIRE_SCREENSHOTS_DIR !== '';
const MIN_POINTS = FOR_README ? 6 : 2;

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(file: string): { width: number; height: number; bytes: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes: b.length };
}

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor screenshots (Chromium, live stations)', () => {
  let t: TestRelay;
  let browser: Browser;
  let stations: SimulatedStation[] = [];
  let streaming: Promise<void>;
  const tmp = mkdtempSync(join(tmpdir(), 'tapwire-shots-'));
  const dir = FOR_README ? resolve(process.env.TAPWIRE_SCREENSHOTS_DIR as string) : tmp;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    browser = await launchChromium();
    await browser.page.setViewportSize(VIEWPORT);
  }, 180_000);

  afterAll(async () => {
    for (const s of stations) s.stop();
    await browser?.close();
    await streaming;
    await t?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('shows three live stations with meters and a spectrum, and their history with a verified knob change', async () => {
    const headers = { authorization: `Bearer ${t.relay.adminToken}` };
    const speech =
      espeakSpeech('Good evening from the studio. This is a test of the Tapwire relay, measured before and after the chain.', RATE) ??
      speechLike(-20, 8, RATE, 3);
    const first = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(speech, RATE, 'opus'), label: 'Studio', durationS: 60, headers });
    await first.connect();
    const traceId = first.started?.trace_id as string;
    const quiet = new SimulatedStation({ url: t.wsUrl, traceId, audio: encodeAudio(speechLike(-38, 9, RATE, 5), RATE, 'opus'), label: 'Field mic', durationS: 60, headers });
    const hot = new SimulatedStation({ url: t.wsUrl, traceId, audio: encodeAudio(clippedSine(220, 4, 3, RATE), RATE, 'pcm16'), label: 'Line in', durationS: 60, headers });
    await Promise.all([quiet.connect(), hot.connect()]);
    stations = [first, quiet, hot];
    streaming = runStations(stations);

    // An operator turns the quiet station up from the next bucket far enough ahead.
    const api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    const applied = await api.applyAtNextBucket({
      traceId,
      stationKey: quiet.started?.station_key as string,
      knobs: { 'pcm.input_gain_db': 14 },
      reason: 'field mic too quiet',
      idempotencyKey: 'screenshot-1',
      leadMs: 1500,
    });
    expect(applied.status).toBe(200);

    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Monitor');
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 15_000 });
    const panels = page.locator(`[data-testid="station"][data-trace-id="${traceId}"]`);
    await expect.poll(() => panels.count(), { timeout: 15_000 }).toBe(3);
    await panels.filter({ hasText: 'Studio' }).getByTestId('focus').click();
    const spectrum = page.getByTestId('spectrum').locator('canvas');
    await expect.poll(async () => Number(await spectrum.getAttribute('data-peak-post-hz')), { timeout: 15_000 }).toBeGreaterThan(0);
    // Let the meters' ballistics and the spectrum's peak hold settle into a typical picture.
    await page.waitForTimeout(2500);
    mkdirSync(dir, { recursive: true });
    const monitorPng = join(dir, 'monitor.png');
    await page.screenshot({ path: monitorPng, fullPage: true });

    await page.locator(`[data-testid="trace"][data-trace-id="${traceId}"]`).getByTestId('trace-history-link').click();
    await page.waitForURL((u) => u.pathname === `/monitor/${traceId}`, { timeout: 10_000 });
    const event = page.getByTestId('knob-event');
    await expect.poll(async () => event.getAttribute('data-state'), { timeout: 40_000, interval: 500 }).toBe('verified');
    const charts = page.getByTestId('history-chart');
    await expect.poll(() => charts.count(), { timeout: 10_000 }).toBe(3);
    for (let i = 0; i < 3; i++) {
      await expect.poll(async () => Number(await charts.nth(i).getAttribute('data-points')), { timeout: 60_000, interval: 1000 }).toBeGreaterThanOrEqual(MIN_POINTS);
    }
    // The turned-up station's newest bucket in the A/B player: both waveforms loaded.
    const ab = page.locator(`[data-testid="station-history"][data-station-key="${quiet.started?.station_key}"]`).getByTestId('ab-player');
    await ab.getByTestId('ab-earlier').click();
    await expect.poll(() => ab.getAttribute('data-loaded'), { timeout: 15_000 }).toBe('true');
    const tracePng = join(dir, 'monitor-trace.png');
    await page.screenshot({ path: tracePng, fullPage: true });

    for (const file of [monitorPng, tracePng]) {
      const size = pngSize(file);
      expect(size.width).toBe(VIEWPORT.width);
      expect(size.height).toBeGreaterThanOrEqual(VIEWPORT.height);
      // A page of meters and charts, not a blank or an error page.
      expect(size.bytes).toBeGreaterThan(40_000);
    }
  }, 180_000);
});
