/**
 * The listen page's WebRTC mode in real Chromium against a real relay: the capture page
 * streams a known tone (over WebSocket), and a second page plays the station over WHEP. The
 * received audio's energy (getStats totalAudioEnergy) and the played level (AnalyserNode)
 * match the relay's POST meters (Chromium's getStats audio level follows the signal's peak,
 * the AnalyserNode gives its RMS); the page shows the connection and its jitter buffer. An
 * unknown stream id gets the relay's 404 in words.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import type { ListenProbe } from '../app/lib/listen/listen-session.svelte.ts';
import { navigate, signIn, startAppUnderTest, type AppUnderTest } from './support/app.ts';
import { steadySine, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, WEBRTC_LOOPBACK_FLAGS } from './support/chromium.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-whep-'));
// A 440 Hz sine at -12 dBFS peak (RMS -15.05 dBFS); 10 s is a whole number of cycles.
const micWav = writeWav(join(dir, 'tone.wav'), steadySine(440, -12, 10));

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('listen page over WebRTC (Chromium, WHEP, real relay)', () => {
  let app: AppUnderTest;

  beforeAll(async () => {
    app = await startAppUnderTest(micWav, WEBRTC_LOOPBACK_FLAGS);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
  });

  it("plays a live station's POST tap over WHEP at the level the relay measures", async () => {
    const { t, browser, api } = app;
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Capture');
    await page.getByTestId('transport-websocket').check();
    await page.getByTestId('label').fill('e2e-whep');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;
    const streamId = (await page.getByTestId('stream-id').textContent()) as string;

    const listener = await browser.context.newPage();
    await listener.goto(`${t.httpUrl}/listen/${streamId}?mode=webrtc`);
    await listener.locator('[data-testid="listen-status"][data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await listener.getByTestId('mode-webrtc').getAttribute('aria-current')).toBe('true');
    expect(await listener.getByTestId('rtc-connection').textContent()).toBe('connected');

    // Two seconds of playing: the figures of the last second.
    await listener.waitForTimeout(2500);
    const probe = (await listener.evaluate(() => window.__tapwireListen)) as ListenProbe;
    const rtc = probe.webrtc!;
    // The second bucket: the first holds the time before the capture started too, which
    // pulls its averages down (-17.4 dBFS RMS against the tone's -15.05, once).
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length >= 2 ? b : undefined;
    }, 25_000, 'a bucket wholly inside the capture');
    const post = buckets[1].metrics.POST;
    const postRms = post['pcm.rms_dbfs']!.avg;
    const postPeak = post['pcm.peak_dbfs']!.avg;
    console.log(
      `listen over WebRTC: relay POST RMS ${postRms.toFixed(2)}, peak ${postPeak.toFixed(2)} dBFS; received energy ${rtc.energyDbfs?.toFixed(2)} dBFS, played RMS ${probe.level.toFixed(2)} dBFS; jitter buffer ${rtc.jitterBufferMs?.toFixed(0)} ms, jitter ${rtc.jitterMs.toFixed(1)} ms, lost ${rtc.packetsLost} of ${rtc.packetsReceived + rtc.packetsLost}, ${((rtc.bitrateBps ?? 0) / 1000).toFixed(1)} kbps, first audio after ${probe.timeToFirstAudioMs?.toFixed(0)} ms`,
    );
    expect(rtc.packetsReceived).toBeGreaterThan(100);
    expect(rtc.packetsLost).toBe(0);
    // Chromium's audioLevel is the largest sample of each period (WebRTC's AudioLevel), so
    // its energy reads the peak: within 1 dB of the relay's POST peak.
    expect(Math.abs(rtc.energyDbfs! - postPeak), `received energy ${rtc.energyDbfs} vs POST peak ${postPeak}`).toBeLessThan(1);
    expect(Math.abs(probe.level - postRms), `played RMS ${probe.level} vs POST ${postRms}`).toBeLessThan(1);
    expect(rtc.jitterBufferMs).toBeGreaterThan(0);
    expect(rtc.jitterBufferMs).toBeLessThan(500);
    expect(probe.timeToFirstAudioMs).not.toBeNull();

    // Stopping the capture ends the station: the player says so.
    await page.getByTestId('capture-toggle').click();
    await listener.locator('[data-testid="listen-status"][data-state="ended"]').waitFor({ timeout: 15_000 });
    await listener.close();
  }, 120_000);

  it('says so when the stream id is not a live station', async () => {
    const { t, browser } = app;
    const page = await browser.context.newPage();
    await page.goto(`${t.httpUrl}/listen/AAAAAAAAAAAAAAAAAAAAAA?mode=webrtc`);
    const error = page.getByTestId('listen-error');
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toMatch(/^no live station with this stream id \(the relay said: .+\): it may have ended$/);
    expect(await page.getByTestId('listen-status').getAttribute('data-state')).toBe('error');
    await page.close();
  }, 30_000);
});
