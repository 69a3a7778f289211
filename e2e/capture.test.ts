/**
 * The capture page in real Chromium, streaming a fake microphone (a known WAV) to a real
 * relay: the relay's PRE bucket RMS matches the file's, the page's meters show the level,
 * and a listener link for the station appears.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn, startAppUnderTest, type AppUnderTest } from './support/app.ts';
import { rmsDbfs, steadySine, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, type Browser } from './support/chromium.ts';
import type { RelayApi } from './support/relay-api.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-'));
// A 440 Hz sine at -12 dBFS peak: RMS -15.05 dBFS. 10 s is a whole number of cycles.
const tone = steadySine(440, -12, 10);
const FILE_RMS_DBFS = rmsDbfs(tone);
const micWav = writeWav(join(dir, 'tone.wav'), tone);

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('capture page (Chromium, fake microphone)', () => {
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
  });

  it('streams the microphone to the relay with PRE level within 1 dB of the file, meters and a listener link', async () => {
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Capture');
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

    await page.getByTestId('label').fill('e2e-tone');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
    const listen = page.getByTestId('listen-link');
    await listen.waitFor();
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;
    const streamId = (await page.getByTestId('stream-id').textContent()) as string;
    expect(await listen.getAttribute('href')).toBe(`${t.httpUrl}/listen/${streamId}`);

    // The station the relay knows is this page's, with the same stream id.
    const trace = await api.trace(traceId);
    expect(trace.stations).toHaveLength(1);
    expect(trace.stations[0]).toMatchObject({ label: 'e2e-tone', stream_id: streamId, live: true });

    // Two complete buckets; the second is wholly inside the capture.
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length >= 2 ? b : undefined;
    }, 25_000, 'two complete buckets');
    const full = buckets[1];
    const preRms = full.metrics.PRE['pcm.rms_dbfs']!.avg;
    expect(Math.abs(preRms - FILE_RMS_DBFS), `PRE rms ${preRms} vs file ${FILE_RMS_DBFS.toFixed(2)}`).toBeLessThan(1);
    expect(full.metrics.PRE['pcm.rms_dbfs']!.count).toBe(250);
    // The segment holds the tone too.
    const pre = await api.segment(full.audio.PRE.endpoint);
    expect(Math.abs(rmsDbfs(pre) - FILE_RMS_DBFS)).toBeLessThan(1);

    // The page's own meters (the worklet's) read the same level: the median of readings over
    // a second, since one reading is one instant of a display with ballistics (a fake
    // microphone starved for a moment on a loaded machine dips it).
    const readings = { rms: [] as number[], peak: [] as number[] };
    for (let i = 0; i < 10; i++) {
      readings.rms.push(Number(await page.getByTestId('meter-rms').getAttribute('data-value')));
      readings.peak.push(Number(await page.getByTestId('meter-peak').getAttribute('data-value')));
      await page.waitForTimeout(100);
    }
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
    const pageRms = median(readings.rms);
    const pagePeak = median(readings.peak);
    expect(Math.abs(pageRms - FILE_RMS_DBFS), `page rms ${pageRms}`).toBeLessThan(1);
    expect(Math.abs(pagePeak - -12), `page peak ${pagePeak}`).toBeLessThan(1);
    expect(await page.getByTestId('relay-dropped').textContent()).toBe('0 frames');
    console.log(`capture: file RMS ${FILE_RMS_DBFS.toFixed(2)} dBFS; relay PRE bucket ${preRms.toFixed(2)}, segment ${rmsDbfs(pre).toFixed(2)}; page RMS ${pageRms.toFixed(2)}, peak ${pagePeak.toFixed(2)} dBFS`);

    // Stop: the relay ends the station.
    await page.getByTestId('capture-toggle').click();
    await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
    await waitFor(async () => ((await api.trace(traceId)).stations[0].live ? undefined : true), 10_000, 'station ended');
  }, 120_000);
});
