/**
 * The monitor's trace page in real Chromium against a real relay: a simulated station
 * streams a steady tone, an operator applies a knob change for a future bucket, and the
 * page (reached through the link on /monitor) charts one point per complete bucket, lists
 * the change, and marks it verified once its bucket is complete and shows the new value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const LABEL = 'e2e-monitor-trace';
const GAIN_DB = -10;

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor trace page (Chromium, simulated station)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  let station: SimulatedStation;
  let streaming: Promise<void>;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    station?.stop();
    await browser?.close();
    await streaming;
    await t?.close();
  });

  it('charts the station\'s buckets and verifies a knob change once its bucket completes', async () => {
    station = new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, -20, 1), RATE, 'pcm16'),
      label: LABEL,
      // Long enough to cover the bucket the change applies at (at most 10 s away) and its end.
      durationS: 20,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });
    await station.connect();
    streaming = runStations([station]);
    const traceId = station.started?.trace_id as string;
    const stationKey = station.started?.station_key as string;

    // The bucket after the one in progress; one more when the boundary is too close to reach in time.
    const applied = await api.applyAtNextBucket({
      traceId,
      stationKey,
      knobs: { 'pcm.input_gain_db': GAIN_DB },
      reason: 'e2e: turn the tone down',
      idempotencyKey: 'e2e-monitor-trace-1',
      leadMs: 1000,
    });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    expect(applied.body.accepted).toBe(true);
    const { applyMs } = applied;

    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Monitor');
    const link = page.locator(`[data-testid="trace"][data-trace-id="${traceId}"]`).getByTestId('trace-history-link');
    await link.click({ timeout: 15_000 });
    await page.waitForURL((u) => u.pathname === `/monitor/${traceId}`, { timeout: 10_000 });

    // The event is listed at once with what was asked, and is pending until its bucket completes.
    const row = page.locator(`[data-testid="knob-event"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('operator');
    expect(await row.textContent()).toContain('e2e: turn the tone down');
    expect(await row.textContent()).toContain('pcm.input_gain_db');
    expect(await row.locator('time').getAttribute('datetime')).toBe(new Date(applyMs).toISOString());
    const states: string[] = [];
    const stateOf = async (): Promise<string> => {
      const s = (await row.getAttribute('data-state')) ?? '';
      if (states[states.length - 1] !== s) states.push(s);
      return s;
    };
    expect(await stateOf()).toBe('pending');

    // The station's chart: a canvas and one point per complete bucket, as the relay has them.
    const chart = page.locator(`[data-testid="station-history"][data-station-key="${stationKey}"]`).getByTestId('history-chart');
    await chart.waitFor({ timeout: 15_000 });
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);

    // Verified once the bucket at apply_at is complete (its end + the relay's grace, + one 5 s poll).
    await expect.poll(stateOf, { timeout: 30_000, interval: 500 }).toBe('verified');
    expect(states).toEqual(['pending', 'verified']);
    const buckets = (await api.buckets(traceId)).filter((b) => b.station_key === stationKey);
    const at = buckets.find((b) => Date.parse(b.bucket_ts) === applyMs);
    expect(at?.knobs_snapshot['pcm.input_gain_db']).toBe(GAIN_DB);
    const points = async (): Promise<number> => Number(await chart.getAttribute('data-points'));
    // The page may lag the relay by one poll; it never shows more buckets than the relay stored.
    expect(await points()).toBeGreaterThanOrEqual(buckets.length - 1);
    await expect.poll(async () => (await points()) - (await api.buckets(traceId)).filter((b) => b.station_key === stationKey).length, { timeout: 12_000 }).toBe(0);
    expect(await points()).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
