/**
 * "Relay unreachable" in real Chromium: /monitor is open and signed in, the service worker
 * controls it, and the relay stops. The open page keeps its last state and says the relay
 * is unreachable; reloaded, the installed app still renders /monitor from its cache with the
 * same banner and when the relay was last reached, and probes /healthz with backoff. A relay
 * started again on the same port and data dir ends it by itself: the banner goes, the
 * session is checked again and the monitor goes live.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { navigate, signIn } from './support/app.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('relay unreachable (Chromium, service worker)', () => {
  let t: TestRelay;
  let browser: Browser;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows "Relay unreachable" from the cache with the relay down, and recovers by itself when it is back', async () => {
    const { page } = browser;
    const banner = page.getByTestId('relay-unreachable');
    const transport = page.getByTestId('monitor-transport');
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await navigate(page, 'Monitor');
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 15_000 });
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await waitFor(async () => ((await page.evaluate(() => navigator.serviceWorker.controller !== null)) ? true : undefined), 15_000, 'service worker control');
    expect(await banner.count()).toBe(0);
    const seqBefore = await page.getByTestId('monitor-seq').textContent();

    // The relay goes: the open page says so and keeps what it showed.
    const downMs = Date.now();
    await t.stop();
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.getAttribute('role')).toBe('alert');
    expect(await banner.textContent()).toContain('Relay unreachable.');
    expect(await page.getByTestId('monitor-seq').isVisible()).toBe(true);
    expect(seqBefore).toMatch(/^Measurement \d+ at /);

    // Reloaded with the relay down: the shell comes from the service worker's cache.
    const probesMs: number[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/healthz') probesMs.push(Date.now());
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Monitor' }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    await banner.waitFor({ timeout: 10_000 });
    expect(await page.getByRole('alert').filter({ hasText: 'Relay unreachable' }).count()).toBe(1);
    // When it was last reached: before the relay stopped, at most the test's length before.
    const lastReached = Date.parse((await page.getByTestId('relay-last-reached').getAttribute('datetime')) as string);
    expect(lastReached).toBeLessThanOrEqual(downMs);
    expect(downMs - lastReached).toBeLessThan(60_000);
    expect(await page.getByTestId('session').getAttribute('data-state')).toBe('unreachable');
    expect(await page.getByTestId('session').textContent()).toContain('not checked: relay unreachable');
    expect(await transport.getAttribute('data-state')).toBe('stale');

    // Probes with backoff: 1 s, then 2 s, then 4 s apart. Timers are late on a busy machine,
    // never early, but the browser reports requests to the test a little unevenly (up to
    // ~100 ms seen), hence the margins below the planned gaps.
    await waitFor(() => (probesMs.length >= 4 ? true : undefined), 20_000, 'four /healthz probes');
    const gapsMs = probesMs.slice(1, 4).map((ms, i) => ms - probesMs[i]);
    console.log(`/healthz probe gaps while down: ${gapsMs.join(', ')} ms`);
    expect(gapsMs[0]).toBeGreaterThanOrEqual(750);
    expect(gapsMs[1]).toBeGreaterThanOrEqual(1750);
    expect(gapsMs[2]).toBeGreaterThanOrEqual(3750);
    await sleep(500);

    // The relay is back on the same port and data dir: the page recovers by itself.
    await t.restart();
    const upMs = Date.now();
    await banner.waitFor({ state: 'detached', timeout: 15_000 });
    const bannerGoneMs = Date.now() - upMs;
    await page.locator('[data-testid="monitor-transport"][data-state="live"]').waitFor({ timeout: 10_000 });
    const liveMs = Date.now() - upMs;
    console.log(`recovered: banner gone ${bannerGoneMs} ms and monitor live ${liveMs} ms after the relay was back`);
    // The next probe was at most 10 s (the longest backoff) away.
    expect(bannerGoneMs).toBeLessThan(12_000);
    await page.locator('[data-testid="session"][data-state="signed-in"]').waitFor({ timeout: 10_000 });
    await page.getByTestId('monitor-seq').waitFor({ timeout: 5000 });
  }, 120_000);
});
