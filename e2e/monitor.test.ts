/**
 * The monitor page in real Chromium against a real relay with a simulated station streaming
 * a known tone: the page shows the station with its details, its PRE RMS reads what the
 * relay publishes, and when `/ws/telemetry` is blocked the page falls back to polling
 * `/measurements` (keeping its meters) and goes live again once the socket is let through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketRoute } from 'playwright-core';
import type { Measurement } from '../protocol/telemetry.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

// A 1 kHz sine at -20 dBFS peak: RMS -23.01 dBFS. 1 s is a whole number of cycles, so the loop has no seam.
const TONE_PEAK_DBFS = -20;
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 10 * Math.log10(2);
const LABEL = 'e2e-monitor-tone';

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor page (Chromium, simulated station)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  let station: SimulatedStation;
  let streaming: Promise<void>;
  /** While true, the page's telemetry sockets are refused; the open ones were closed. */
  let blocked = false;
  const routed = new Set<WebSocketRoute>();
  let socketsRefused = 0;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    station = new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, TONE_PEAK_DBFS, 1), RATE, 'pcm16'),
      label: LABEL,
      durationS: 150,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });
    await station.connect();
    streaming = runStations([station]);
    browser = await launchChromium();
    // Every telemetry socket of the page goes through the test, which can refuse or cut it.
    await browser.page.routeWebSocket(/\/ws\/telemetry/, (ws) => {
      if (blocked) {
        socketsRefused++;
        void ws.close({ code: 1011, reason: 'blocked by the test' });
        return;
      }
      ws.connectToServer();
      routed.add(ws);
      ws.onClose(() => routed.delete(ws));
    });
  }, 180_000);

  afterAll(async () => {
    station?.stop();
    await browser?.close();
    await streaming;
    await t?.close();
  });

  /** The relay's current PRE RMS for the station (what it publishes, `GET /measurements`). */
  async function publishedPreRms(): Promise<number> {
    const m = await api.get<Measurement>('/measurements');
    const s = Object.values(m.stations).find((x) => x.label === LABEL);
    if (s === undefined) throw new Error(`station ${LABEL} not in ${JSON.stringify(Object.keys(m.stations))}`);
    return s.PRE.rms_dbfs;
  }

  it('shows the live station, PRE RMS as the relay publishes it, and falls back to polling while the socket is blocked', async () => {
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Monitor');
    await page.waitForURL((u) => u.pathname === '/monitor', { timeout: 10_000 });

    const badge = page.getByTestId('monitor-transport');
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 15_000 });
    const panel = page.getByTestId('station').filter({ hasText: LABEL });
    await panel.waitFor({ timeout: 15_000 });
    expect(await panel.getAttribute('data-station-key')).toBe(station.started?.station_key);
    expect(await panel.getAttribute('data-trace-id')).toBe(station.started?.trace_id);
    // Details from the REST API.
    await expect.poll(() => panel.getByTestId('codec').textContent(), { timeout: 10_000 }).toBe('pcm16');
    expect(await panel.getByTestId('rate').textContent()).toBe('48 kHz');

    const preRms = panel.getByTestId('tap-PRE').getByTestId('rms');
    const postRms = panel.getByTestId('tap-POST').getByTestId('rms');

    /** Pairs of (page, relay) PRE RMS readings, taken back to back; the tone is steady. */
    async function comparePreRms(what: string): Promise<void> {
      const pairs: string[] = [];
      let matched = 0;
      for (let i = 0; i < 8; i++) {
        const shown = Number(await preRms.getAttribute('data-value'));
        const published = await publishedPreRms();
        pairs.push(`${shown}/${published}`);
        // Display rounding is 0.05 dB; the rest is one measurement interval between the two reads.
        if (Math.abs(shown - published) <= 0.5) matched++;
        expect(Math.abs(shown - TONE_RMS_DBFS), `${what}: page PRE RMS ${shown}`).toBeLessThan(1);
        await page.waitForTimeout(150);
      }
      console.log(`monitor ${what}: page/relay PRE RMS ${pairs.join(' ')}`);
      // A loaded machine may put one read across a dip; most must agree.
      expect(matched, `${what}: page/relay pairs ${pairs.join(' ')}`).toBeGreaterThanOrEqual(6);
    }

    await waitFor(async () => (Math.abs(Number(await preRms.getAttribute('data-value')) - TONE_RMS_DBFS) < 1 ? true : undefined), 10_000, 'PRE RMS to settle on the tone');
    await comparePreRms('live');
    expect(Number(await postRms.getAttribute('data-value'))).toBeGreaterThan(-60);
    expect(await panel.getByTestId('tap-PRE').getByTestId('clip').getAttribute('data-latched')).toBe('false');

    // Block the socket: the open one is cut and new ones are refused.
    blocked = true;
    expect(routed.size).toBeGreaterThan(0);
    for (const ws of [...routed]) await ws.close({ code: 1011, reason: 'blocked by the test' });
    await page.locator('[data-testid="monitor-transport"][data-state="polling"]').waitFor({ timeout: 5_000 });
    // It keeps showing meters, updated by polling (the measurement seq moves on), and keeps
    // trying the socket with backoff.
    const seq = page.getByTestId('monitor-seq');
    const seqAtBlock = Number(await seq.getAttribute('data-seq'));
    await expect.poll(async () => Number(await seq.getAttribute('data-seq')), { timeout: 5_000 }).toBeGreaterThan(seqAtBlock);
    await comparePreRms('polling');
    await waitFor(() => (socketsRefused >= 2 ? true : undefined), 10_000, 'two reconnection attempts');
    expect(await badge.getAttribute('data-state')).toBe('polling');

    // Unblock: the next reconnection goes live again (backoff is at most 10 s).
    blocked = false;
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 20_000 });
    expect(routed.size).toBeGreaterThan(0);
    await comparePreRms('live again');
  }, 150_000);
});
