/**
 * The monitor's trace page on a long trace, in real Chromium against a real relay: 12 hours
 * of 5 s buckets (8,640 per station) for two stations of one ended trace, with a knob change
 * every hour, written into the relay's store. The page must chart every bucket, verify
 * every change, and stay smooth while the view pans across the 12 hours: the rAF intervals
 * during a 60-step keyboard pan are measured in the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { startTestRelay, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { signIn } from './support/app.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { seedLongTrace, type SeededTrace } from './support/history-seed.ts';

const HOURS = 12;
const PAN_STEPS = 60;
/** Generous for a loaded 2-core machine, yet a redraw that scales with all 8,640 points per series fails it. */
const PAN_P95_MAX_MS = 50;
/** Zooming out redraws all 12 hours (decimated): one slow frame is expected, a dot per bucket (50,000 circles, 500+ ms) is not. */
const ZOOM_P95_MAX_MS = 100;
/** The whole history on screen, from navigation: generous, it catches a load page by page at the snapshot's pace. */
const FULL_RENDER_MAX_MS = 20_000;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor trace page, 12 hours of history (Chromium)', () => {
  let t: TestRelay;
  let browser: Browser;
  let seeded: SeededTrace;

  beforeAll(async () => {
    ensureAppBuilt();
    // The page's own pace, as deployed: the snapshot's per-token rate limit stays on.
    t = await startTestRelay({ appDir: BUILD_DIR });
    seeded = seedLongTrace(t.relay.store, { traceId: 'trace_long_12h', stations: 2, hours: HOURS, endMs: Date.now() - 3600_000 });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('charts all 8,640 buckets per station, verifies the hourly changes, and pans smoothly', async () => {
    expect(seeded.bucketsPerStation).toBe(8640);
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await page.goto(`${t.httpUrl}/monitor/${seeded.traceId}`);
    const fullMs = await page
      .waitForFunction(
        (n) => {
          const charts = [...document.querySelectorAll<HTMLElement>('[data-testid="history-chart"]')];
          return charts.length === 2 && charts.every((c) => c.dataset.points === String(n)) ? performance.now() : false;
        },
        seeded.bucketsPerStation,
        { polling: 50, timeout: 60_000 },
      )
      .then((h) => h.jsonValue() as Promise<number>);

    console.log(`12 h history: ${seeded.bucketsPerStation} buckets x ${seeded.stationKeys.length} stations on screen ${fullMs.toFixed(0)} ms after navigation`);
    // Every bucket is a point, oldest first, from the first bucket to the last.
    for (const key of seeded.stationKeys) {
      const chart = page.locator(`[data-testid="station-history"][data-station-key="${key}"]`).getByTestId('history-chart');
      expect(Number(await chart.getAttribute('data-x-min'))).toBe(seeded.fromMs / 1000);
      expect(Number(await chart.getAttribute('data-x-max'))).toBe((seeded.toMs - 5000) / 1000);
    }
    // Every hourly change is listed and verified from the buckets.
    const rows = page.getByTestId('knob-event');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(seeded.eventsPerStation * 2);
    expect(await page.locator('[data-testid="knob-event"][data-state="verified"]').count()).toBe(seeded.eventsPerStation * 2);

    // Zoom to an eighth of the range (three "+"), then pan right one step a frame.
    const plot = page.locator(`[data-testid="station-history"][data-station-key="${seeded.stationKeys[0]}"] [data-testid="history-plot"]`);
    await plot.focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('+');
    const chart = page.locator(`[data-testid="station-history"][data-station-key="${seeded.stationKeys[0]}"]`).getByTestId('history-chart');
    const view = async () => [Number(await chart.getAttribute('data-x-min')), Number(await chart.getAttribute('data-x-max'))];
    const [zMin, zMax] = await view();
    expect((zMax - zMin) / 3600).toBeCloseTo(HOURS / 8, 1);
    // Back to the start of the trace, then across it.
    await page.keyboard.press('Home');
    const [startMin] = await view();
    expect(startMin).toBe(seeded.fromMs / 1000);

    /** rAF intervals while one key a frame is dispatched to the chart (none: an idle page), ms. */
    const framesWith = (keys: string[]): Promise<number[]> =>
      plot.evaluate(
        (el, keys) =>
          new Promise<number[]>((resolve) => {
            const intervals: number[] = [];
            let last = -1;
            let i = 0;
            const tick = (now: number): void => {
              if (last >= 0) intervals.push(now - last);
              last = now;
              if (i < keys.length) el.dispatchEvent(new KeyboardEvent('keydown', { key: keys[i], bubbles: true }));
              if (i++ <= keys.length) requestAnimationFrame(tick);
              else resolve(intervals);
            };
            requestAnimationFrame(tick);
          }),
        keys,
      );
    const idleFrames = await framesWith(Array<string>(30).fill(''));
    const panFrames = await framesWith(Array<string>(PAN_STEPS).fill('ArrowRight'));
    const [endMin, endMax] = await view();
    // The view crossed the trace and stopped at its end.
    expect(endMax).toBe((seeded.toMs - 5000) / 1000);
    expect(endMin).toBeGreaterThan(startMin + (HOURS - 2) * 3600);

    // Zooming redraws up to the whole 12 hours: out to all of it and back, three times.
    const zoomFrames = await framesWith(Array.from({ length: 3 }, () => ['-', '-', '-', '+', '+', '+']).flat());

    const stats = (xs: number[]) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs) });
    const idle = stats(idleFrames);
    const pan = stats(panFrames);
    const zoom = stats(zoomFrames);
    const f = (x: { p50: number; p95: number; max: number }) => `p50 ${x.p50.toFixed(1)} / p95 ${x.p95.toFixed(1)} / max ${x.max.toFixed(1)} ms`;
    console.log(`12 h history: rAF intervals idle ${f(idle)}; panning (${PAN_STEPS} steps) ${f(pan)}; zooming out to 12 h and back (${zoomFrames.length} frames) ${f(zoom)}`);
    expect(fullMs).toBeLessThan(FULL_RENDER_MAX_MS);
    expect(panFrames.length).toBe(PAN_STEPS + 1);
    expect(pan.p95).toBeLessThan(PAN_P95_MAX_MS);
    expect(zoom.p95).toBeLessThan(ZOOM_P95_MAX_MS);
  }, 150_000);
});
