/**
 * The capture page's WebRTC transport in real Chromium against a real relay: the fake
 * microphone (a known tone) goes over WHIP, coded by Chromium's own Opus; the relay's
 * station is a WebRTC one whose PRE buckets read the tone, the page's meters read it too
 * (same worklet as over WebSocket), the choice of transport is remembered on the device,
 * and stop (DELETE of the session) ends the station. A refused start shows the relay's
 * reason. Behind a lossy UDP proxy, the relay's loss reports lower the sender's bitrate.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayStats } from '../protocol/api.ts';
import { waitFor } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn, startAppUnderTest, type AppUnderTest } from './support/app.ts';
import { rmsDbfs, steadySine, writeWav } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, WEBRTC_LOOPBACK_FLAGS } from './support/chromium.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-e2e-webrtc-'));
// A 440 Hz sine at -12 dBFS peak: RMS -15.05 dBFS. 10 s is a whole number of cycles.
const tone = steadySine(440, -12, 10);
const FILE_RMS_DBFS = rmsDbfs(tone);
const micWav = writeWav(join(dir, 'tone.wav'), tone);

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('capture page over WebRTC (Chromium, WHIP, real relay)', () => {
  let app: AppUnderTest;

  beforeAll(async () => {
    app = await startAppUnderTest(micWav, WEBRTC_LOOPBACK_FLAGS);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
  });

  it('streams the microphone over WHIP: a WebRTC station with the tone in its buckets, the same meters, stop ends it', async () => {
    const { t, browser, api } = app;
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Capture');
    await page.getByTestId('transport-webrtc').check();
    await page.getByTestId('label').fill('e2e-webrtc');
    await page.getByTestId('capture-toggle').click();
    await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
    await page.getByTestId('listen-link').waitFor();
    expect(await page.getByTestId('transport').textContent()).toBe('WebRTC (WHIP)');
    const traceId = (await page.getByTestId('trace-id').textContent()) as string;
    const streamId = (await page.getByTestId('stream-id').textContent()) as string;

    const trace = await api.trace(traceId);
    expect(trace.stations).toHaveLength(1);
    expect(trace.stations[0]).toMatchObject({ label: 'e2e-webrtc', stream_id: streamId, live: true });
    const stats = await api.get<RelayStats>('/api/relay/stats');
    const station = stats.stations.find((s) => s.trace_id === traceId);
    expect(station?.transport).toBe('webrtc');

    // Two complete buckets; the second is wholly inside the capture.
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length >= 2 ? b : undefined;
    }, 25_000, 'two complete buckets');
    const full = buckets[1];
    const preRms = full.metrics.PRE['pcm.rms_dbfs']!.avg;
    expect(Math.abs(preRms - FILE_RMS_DBFS), `PRE rms ${preRms} vs file ${FILE_RMS_DBFS.toFixed(2)}`).toBeLessThan(1);
    expect(full.metrics.PRE['pcm.rms_dbfs']!.count).toBe(250);

    // The page's meters (the worklet's, as over WebSocket) read the same tone.
    const rms: number[] = [];
    for (let i = 0; i < 10; i++) {
      rms.push(Number(await page.getByTestId('meter-rms').getAttribute('data-value')));
      await page.waitForTimeout(100);
    }
    const pageRms = [...rms].sort((a, b) => a - b)[rms.length >> 1];
    expect(Math.abs(pageRms - FILE_RMS_DBFS), `page rms ${pageRms}`).toBeLessThan(1);
    // RTP went out (bytes from getStats) and the local recording goes on beside it.
    await waitFor(async () => (Number(await page.getByTestId('bytes-sent').getAttribute('data-value')) > 0 ? true : undefined), 5000, 'bytes sent over RTP');
    expect(Number((await page.getByTestId('captured').textContent())!.match(/\((\d+) packets\)/)![1])).toBeGreaterThan(400);
    expect((await page.getByTestId('backlog').textContent())!.startsWith('0:00')).toBe(true);
    console.log(`capture over WebRTC: file RMS ${FILE_RMS_DBFS.toFixed(2)} dBFS; relay PRE bucket ${preRms.toFixed(2)}; page RMS ${pageRms.toFixed(2)} dBFS`);

    // Stop: DELETE of the session; the relay ends the station.
    await page.getByTestId('capture-toggle').click();
    await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
    await waitFor(async () => ((await api.trace(traceId)).stations[0].live ? undefined : true), 10_000, 'station ended');
    const after = await api.get<RelayStats>('/api/relay/stats');
    expect(after.stations.some((s) => s.trace_id === traceId)).toBe(false);

    // The device remembers the transport.
    await page.reload();
    expect(await page.getByTestId('transport-webrtc').isChecked()).toBe(true);
  }, 120_000);

  it("shows the relay's reason when it refuses the start (joining a trace that is not live)", async () => {
    const { page } = app.browser;
    await page.getByTestId('transport-webrtc').check();
    await page.getByTestId('trace').fill('no-such-trace');
    await page.getByTestId('capture-toggle').click();
    const error = page.getByTestId('capture-error');
    await error.waitFor({ timeout: 15_000 });
    const text = (await error.textContent()) as string;
    expect(text).toMatch(/^the relay refused this capture: the relay refused the WebRTC capture request \(the relay said: .*trace.*\); it goes on recording locally$/);
    expect(await page.locator('[data-testid="link-state"]').getAttribute('data-state')).toBe('closed');
    await page.getByTestId('capture-toggle').click();
    await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
  }, 60_000);

  it('lowers the WebRTC sender bitrate when the relay reports loss (every 5th RTP packet dropped on the way)', async () => {
    const { t, browser } = app;
    const page = await browser.context.newPage();
    const proxy = new LossyUdpProxy(5);
    await proxy.start();
    try {
      // The relay's answer is rewritten in flight so that Chromium's one way to the relay is
      // the proxy: a lossy network in front of the real relay, no production hook.
      await page.route('**/whip?*', async (route) => {
        const res = await route.fetch();
        const body = proxy.interpose(await res.text());
        await route.fulfill({ response: res, body });
      });
      await page.goto(`${t.httpUrl}/capture`);
      await page.getByTestId('transport-webrtc').check();
      await page.getByTestId('bitrate-choice').selectOption('64000');
      await page.getByTestId('trace').fill('');
      await page.getByTestId('label').fill('e2e-webrtc-lossy');
      await page.getByTestId('capture-toggle').click();
      await page.locator('[data-testid="link-state"][data-state="live"]').waitFor({ timeout: 15_000 });
      const first = page.getByTestId('bitrate-log').locator('li').first();
      await first.waitFor({ timeout: 15_000 });
      const line = ((await first.textContent()) as string).replace(/^\S+ /, '');
      console.log(`capture over WebRTC, 1 RTP packet in 5 dropped (${proxy.dropped} of ${proxy.rtpPackets}): ${line}`);
      expect(proxy.dropped).toBeGreaterThanOrEqual(3);
      // 20 % is heavy loss (> 5 %): a cut by 0.7. The figure is estimated from the relay's
      // RTCP receiver reports (rtc-stats.ts intervalLoss), which are taken at their own
      // moments: near 20 %, not exactly.
      const m = /^Bitrate: 64 → 44\.8 kbps \(packet loss (\d+(?:\.\d)?)%\)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(5);
      expect(Number(m![1])).toBeLessThan(50);
      await page.getByTestId('capture-toggle').click();
      await page.getByTestId('capture-toggle').getByText('Start capture').waitFor();
    } finally {
      await page.close();
      proxy.close();
    }
  }, 60_000);
});

/**
 * A UDP relay between Chromium and the relay's WebRTC socket that drops every `nth` RTP
 * packet from the browser (STUN, DTLS and RTCP pass). `interpose` rewrites an SDP answer so
 * that its only candidate is the proxy, and remembers where the relay really listens.
 */
class LossyUdpProxy {
  private readonly front = createSocket('udp4');
  private readonly back = createSocket('udp4');
  private target: { address: string; port: number } | null = null;
  private browserAt: { address: string; port: number } | null = null;
  rtpPackets = 0;
  dropped = 0;

  constructor(private readonly nth: number) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.front.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => this.back.bind(0, '127.0.0.1', resolve));
    this.front.on('message', (msg, from) => {
      this.browserAt = { address: from.address, port: from.port };
      // RTP (RFC 3550 version 2) but not RTCP (payload types 192-223, RFC 5761 §4).
      if (msg.length >= 12 && (msg[0] & 0xc0) === 0x80 && !(msg[1] >= 192 && msg[1] <= 223)) {
        this.rtpPackets++;
        if (this.rtpPackets % this.nth === 0) {
          this.dropped++;
          return;
        }
      }
      if (this.target !== null) this.back.send(msg, this.target.port, this.target.address);
    });
    this.back.on('message', (msg) => {
      if (this.browserAt !== null) this.front.send(msg, this.browserAt.port, this.browserAt.address);
    });
  }

  interpose(answer: string): string {
    const port = this.front.address().port;
    const lines = answer.split('\r\n');
    const out: string[] = [];
    for (const line of lines) {
      const m = /^(a=candidate:\S+ 1 udp \d+ )127\.0\.0\.1 (\d+)( typ host.*)$/i.exec(line);
      if (m !== null && this.target === null) {
        this.target = { address: '127.0.0.1', port: Number(m[2]) };
        out.push(`${m[1]}127.0.0.1 ${port}${m[3]}`);
      } else if (!line.startsWith('a=candidate:')) {
        out.push(line);
      }
    }
    if (this.target === null) throw new Error('the answer has no 127.0.0.1 host candidate to interpose on');
    return out.join('\r\n');
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}
