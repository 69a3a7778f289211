/**
 * The monitor's spectrum, ingest health and call quality in real Chromium against a real
 * relay: a station streams a 1 kHz tone cleanly, another the same tone over a poor network
 * (every tenth frame never sent, sends up to 60 ms late). Focusing the clean one shows its
 * PRE and POST spectra peaking within one 1/6-octave band of 1 kHz; its panel shows codec,
 * rate and transport and the same ingest counters as `/api/relay/stats` (within one poll);
 * the lossy one reads POOR or CRITICAL, its concealed frames highlighted. Without the
 * telemetry socket the spectrum says it is paused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator } from 'playwright-core';
import type { RelayStatsResponse, StationStats } from '../protocol/api.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const CLEAN = 'e2e-spectrum-clean';
const LOSSY = 'e2e-spectrum-lossy';
/**
 * A counter on the page may lag the relay's by one poll (2 s), the media worker's report
 * (1 s) and the reads in between on a loaded machine: 5 s of 20 ms frames.
 */
const POLL_LAG_FRAMES = 5000 / 20;

/** Distance between two frequencies in 1/6-octave bands. */
const bandsApart = (hz: number, refHz: number): number => Math.abs(6 * Math.log2(hz / refHz));

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor spectrum, ingest health and QoS (Chromium)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  let clean: SimulatedStation;
  let lossy: SimulatedStation;
  let streaming: Promise<void>;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    const audio = encodeAudio(steadySine(1000, -20, 1), RATE, 'pcm16');
    const headers = { authorization: `Bearer ${t.relay.adminToken}` };
    clean = new SimulatedStation({ url: t.wsUrl, audio, label: CLEAN, durationS: 90, headers });
    lossy = new SimulatedStation({ url: t.wsUrl, audio, label: LOSSY, durationS: 90, headers, dropEvery: 10, sendJitterMs: 60 });
    await Promise.all([clean.connect(), lossy.connect()]);
    streaming = runStations([clean, lossy]);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    clean?.stop();
    lossy?.stop();
    await browser?.close();
    await streaming;
    await t?.close();
  });

  async function relayStation(s: SimulatedStation): Promise<StationStats> {
    const body = await api.get<RelayStatsResponse>('/api/relay/stats');
    const st = body.stations.find((x) => x.station_key === s.started?.station_key);
    if (st === undefined) throw new Error(`station ${s.started?.station_key} not in /api/relay/stats`);
    return st;
  }

  const count = async (panel: Locator, id: string): Promise<number> => Number((await panel.getByTestId(id).textContent())?.trim().split(/\s/)[0]);

  it('shows the focused station\'s spectrum peaking at 1 kHz, its facts and counters as the relay has them, and the lossy station\'s poor quality', async () => {
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Monitor');
    const cleanPanel = page.getByTestId('station').filter({ hasText: CLEAN });
    const lossyPanel = page.getByTestId('station').filter({ hasText: LOSSY });
    await cleanPanel.waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 15_000 });

    // Facts: codec and rate from the trace, transport from the stats.
    await expect.poll(() => cleanPanel.getByTestId('codec').textContent(), { timeout: 10_000 }).toBe('pcm16');
    expect(await cleanPanel.getByTestId('rate').textContent()).toBe('48 kHz');
    await expect.poll(() => cleanPanel.getByTestId('transport').textContent(), { timeout: 10_000 }).toBe('websocket');

    // Focus the clean station: the spectrum shows its tone, PRE and POST.
    await cleanPanel.locator('h3').click();
    expect(await cleanPanel.getAttribute('data-focused')).toBe('true');
    const spectrum = page.getByTestId('spectrum');
    expect(await spectrum.getAttribute('data-station-key')).toBe(clean.started?.station_key);
    const canvas = page.getByTestId('spectrum-canvas');
    await page.locator('[data-testid="spectrum-canvas"][data-state="live"]').waitFor({ timeout: 10_000 });
    const peaks: string[] = [];
    for (let i = 0; i < 4; i++) {
      await waitFor(async () => ((await canvas.getAttribute('data-peak-pre-hz')) && (await canvas.getAttribute('data-peak-post-hz')) ? true : undefined), 5000, 'PRE and POST peaks');
      const pre = Number(await canvas.getAttribute('data-peak-pre-hz'));
      const post = Number(await canvas.getAttribute('data-peak-post-hz'));
      peaks.push(`${pre}/${post}`);
      expect(bandsApart(pre, 1000), `PRE peak ${pre} Hz`).toBeLessThanOrEqual(1);
      expect(bandsApart(post, 1000), `POST peak ${post} Hz`).toBeLessThanOrEqual(1);
      await page.waitForTimeout(300);
    }
    console.log(`monitor spectrum: PRE/POST peak bands ${peaks.join(' ')} Hz`);

    // Ingest counters: the page's (polled every 2 s) against the relay's, read right after.
    await expect.poll(async () => count(cleanPanel, 'frames-received'), { timeout: 10_000 }).toBeGreaterThan(0);
    const shown = {
      received: await count(cleanPanel, 'frames-received'),
      dropped: await count(cleanPanel, 'frames-dropped'),
      errors: await count(cleanPanel, 'decode-errors'),
      late: await count(cleanPanel, 'late-frames'),
      queue: await count(cleanPanel, 'queue-depth'),
    };
    const relay = await relayStation(clean);
    console.log(`monitor ingest: page ${JSON.stringify(shown)}, relay received ${relay.frames_received}`);
    expect(shown.received).toBeLessThanOrEqual(relay.frames_received!);
    expect(relay.frames_received! - shown.received).toBeLessThanOrEqual(POLL_LAG_FRAMES);
    expect(shown.dropped).toBe(relay.frames_dropped);
    expect(shown.errors).toBe(relay.decode_errors);
    expect(shown.late).toBe(relay.late_frames);
    expect(shown.queue).toBeLessThanOrEqual(48);
    expect(await cleanPanel.getByTestId('listeners').textContent()).toBe('0');
    await expect.poll(() => cleanPanel.getByTestId('qos').getAttribute('data-level'), { timeout: 10_000 }).toBe('GOOD');

    // The lossy station: POOR or CRITICAL, with its figures; its concealment highlighted and as the relay counts it.
    const qos = lossyPanel.getByTestId('qos');
    await expect.poll(() => qos.getAttribute('data-level'), { timeout: 10_000 }).toMatch(/^(POOR|CRITICAL)$/);
    const loss = Number((await qos.getByTestId('qos-loss').textContent())?.split(' ')[0]);
    console.log(`monitor QoS: lossy ${await qos.textContent()}`);
    expect(loss).toBeGreaterThan(5);
    expect(loss).toBeLessThan(15);
    const concealed = await count(lossyPanel, 'frames-concealed');
    const relayLossy = await relayStation(lossy);
    expect(concealed).toBeGreaterThan(0);
    expect(concealed).toBeLessThanOrEqual(relayLossy.frames_concealed!);
    expect(relayLossy.frames_concealed! - concealed).toBeLessThanOrEqual(POLL_LAG_FRAMES / 10 + 10);
    expect(await lossyPanel.getByTestId('frames-concealed').evaluate((el) => el.parentElement?.classList.contains('bad'))).toBe(true);

    // Focus moves: one station at a time.
    await lossyPanel.getByTestId('focus').click();
    expect(await spectrum.getAttribute('data-station-key')).toBe(lossy.started?.station_key);
    expect(await cleanPanel.getAttribute('data-focused')).toBe('false');
    await page.locator('[data-testid="spectrum-canvas"][data-state="live"]').waitFor({ timeout: 10_000 });

    // The alert sound: off by default; turning it on plays a preview and is kept on the device.
    const alert = page.getByTestId('qos-alert');
    expect(await alert.getAttribute('data-enabled')).toBe('false');
    await alert.getByRole('checkbox').check();
    await expect.poll(() => alert.getAttribute('data-sounded'), { timeout: 5000 }).toBe('1');
    await alert.getByRole('combobox').selectOption('chime');
    expect(await page.evaluate(() => localStorage.getItem('tapwire.qosAlert'))).toBe('{"enabled":true,"sound":"chime"}');

    // No telemetry socket (refused from now on): the page polls, and the spectrum says it is paused.
    await page.routeWebSocket(/\/ws\/telemetry/, (ws) => void ws.close({ code: 1011, reason: 'blocked by the test' }));
    await cleanPanel.getByTestId('focus').click();
    await page.locator('[data-testid="spectrum-state"][data-state="paused"]').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('monitor-transport').getAttribute('data-state')).toBe('polling');
  }, 90_000);
});
