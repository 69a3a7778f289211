/**
 * A/B listening on the monitor's trace page in real Chromium against a real relay: a
 * simulated station streams a steady tone, a knob change turns POST down by 10 dB from a
 * bucket on; the page picks that bucket (a click on the chart, then the earlier/later
 * buttons), loads its PRE and POST segments and plays them through one transport. Switching
 * A→B→A… keeps the position (no restart of the sources, no jump beyond the time elapsed),
 * and what is heard (the player's own AnalyserNode, shown as its level readout) changes by
 * the knob's amount. A bucket whose audio retention removed, and a token without
 * read:audio, each show what is wrong.
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const BUCKET_MS = 5000;
const GAIN_DB = -10;
/** A -20 dBFS peak sine: RMS -23.01 dBFS. */
const TONE_PEAK_DBFS = -20;
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 3.01;

interface PanelState {
  positionS: number;
  /** The AudioContext's time the position was read at, s. */
  clockS: number;
  outputDb: number;
  side: string;
  starts: number;
  playing: boolean;
  /** performance.now() when read, ms. */
  atMs: number;
}

const readPanel = (panel: Locator): Promise<PanelState> =>
  panel.evaluate((el: HTMLElement) => ({
    positionS: Number(el.dataset.positionS),
    clockS: Number(el.dataset.clockS),
    outputDb: Number(el.dataset.outputDb),
    side: el.dataset.side ?? '',
    starts: Number(el.dataset.starts),
    playing: el.dataset.playing === 'true',
    atMs: performance.now(),
  }));

/** Median of the heard level over ~300 ms (the readout follows a 400 ms RMS window). */
async function heardDb(panel: Locator): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 6; i++) {
    v.push((await readPanel(panel)).outputDb);
    await sleep(60);
  }
  return v.sort((a, b) => a - b)[3];
}

/** Opens the trace page and picks the newest bucket by clicking the right edge of the station's chart. */
async function openAndPickNewest(page: Page, baseUrl: string, traceId: string, stationKey: string): Promise<Locator> {
  await page.goto(`${baseUrl}/monitor/${traceId}`);
  const station = page.locator(`[data-testid="station-history"][data-station-key="${stationKey}"]`);
  const chart = station.getByTestId('history-chart');
  await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThan(0);
  const over = chart.locator('.u-over');
  const box = await over.boundingBox();
  if (box === null) throw new Error('the chart has no box');
  await over.click({ position: { x: box.width - 1, y: box.height / 2 } });
  const panel = station.getByTestId('ab-player');
  await expect.poll(() => panel.getAttribute('data-bucket-ts'), { timeout: 5_000 }).not.toBe('');
  return panel;
}

/** Steps with the earlier/later buttons until the panel holds `iso`. */
async function stepTo(panel: Locator, iso: string): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const at = (await panel.getAttribute('data-bucket-ts')) ?? '';
    if (at === iso) return;
    await panel.getByTestId(at > iso ? 'ab-earlier' : 'ab-later').click();
  }
  expect(await panel.getAttribute('data-bucket-ts')).toBe(iso);
}

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor A/B listening (Chromium, simulated station)', () => {
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

  it('switches PRE and POST of a bucket at the same position, heard 10 dB apart; removed audio and a token without read:audio say so', async () => {
    station = new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, TONE_PEAK_DBFS, 1), RATE, 'pcm16'),
      label: 'e2e-monitor-ab',
      // Covers the bucket the change applies at (at most 7 s away) and its end.
      durationS: 16,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });
    await station.connect();
    streaming = runStations([station]);
    const traceId = station.started?.trace_id as string;
    const stationKey = station.started?.station_key as string;

    const applied = await api.applyAtNextBucket({
      traceId,
      stationKey,
      knobs: { 'pcm.input_gain_db': GAIN_DB },
      reason: 'e2e: POST 10 dB below PRE',
      idempotencyKey: 'e2e-monitor-ab-1',
      leadMs: 1000,
    });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    const applyIso = new Date(applied.applyMs).toISOString();

    // The bucket of the change, complete on the relay: the reference for what the page plays.
    const target = await waitFor(
      async () => (await api.buckets(traceId)).find((b) => b.station_key === stationKey && b.bucket_ts === applyIso),
      25_000,
      'the bucket of the knob change',
    );
    expect(target.knobs_snapshot['pcm.input_gain_db']).toBe(GAIN_DB);
    const relayPreDb = target.metrics.PRE['pcm.rms_dbfs'].avg;
    const relayStepDb = target.metrics.POST['pcm.rms_dbfs'].avg - relayPreDb;

    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    const panel = await openAndPickNewest(page, t.httpUrl, traceId, stationKey);
    // The click picked the newest bucket the page had, which is the change's or later.
    expect(Date.parse((await panel.getAttribute('data-bucket-ts')) ?? '')).toBeGreaterThanOrEqual(applied.applyMs);
    await stepTo(panel, applyIso);
    await expect.poll(() => panel.getAttribute('data-loaded'), { timeout: 10_000 }).toBe('true');
    const preS = Number(await panel.getAttribute('data-pre-s'));
    const postS = Number(await panel.getAttribute('data-post-s'));
    expect(Math.abs(preS - BUCKET_MS / 1000), `PRE ${preS} s`).toBeLessThan(0.01);
    expect(Math.abs(postS - BUCKET_MS / 1000), `POST ${postS} s`).toBeLessThan(0.01);
    // Both waveforms are drawn: a steady tone fills the canvas's middle band in every column.
    const inked = await panel.getByTestId('waveform').evaluateAll((els) =>
      (els as HTMLCanvasElement[]).map((c) => {
        const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
        let columns = 0;
        for (let x = 0; x < c.width; x++) if (d[(Math.floor(c.height / 2) * c.width + x) * 4 + 3] > 0) columns++;
        return columns / c.width;
      }),
    );
    expect(inked.length).toBe(2);
    for (const share of inked) expect(share, `waveform columns drawn: ${inked.join(', ')}`).toBeGreaterThan(0.9);
    // The bucket's meters and knobs beside the player.
    expect(await panel.getByTestId('ab-meters').textContent()).toContain('POST');
    expect(await panel.textContent()).toContain('pcm.input_gain_db');

    // Play A (PRE), from the Play button (a click: what the autoplay policy needs).
    await panel.getByTestId('ab-play').click();
    await expect.poll(async () => (await readPanel(panel)).playing, { timeout: 5_000 }).toBe(true);
    await sleep(700);
    const first = await readPanel(panel);
    expect(first.side).toBe('A');
    expect(first.positionS).toBeGreaterThan(0);
    const heard: Record<string, number[]> = { A: [await heardDb(panel)], B: [] };

    // A→B→A→B→A, by key and by button; each switch keeps the position and the sources.
    const jumps: string[] = [];
    for (const [i, to] of (['B', 'A', 'B', 'A'] as const).entries()) {
      const before = await readPanel(panel);
      if (i % 2 === 0) await page.keyboard.press(to.toLowerCase());
      else await panel.getByTestId(`ab-side-${to}`).click();
      await sleep(100);
      // The readout is refreshed once a frame: wait for one after the switch.
      const after = await waitFor(async () => {
        const r = await readPanel(panel);
        return r.clockS > before.clockS && r.side === to ? r : undefined;
      }, 3_000, 'a frame after the switch');
      // On the audio clock: the position moved exactly as much as the context's time did
      // (to 1 ms, the readout's rounding), so the switch neither jumped nor restarted.
      const clockS = after.clockS - before.clockS;
      const movedS = (((after.positionS - before.positionS) % 5) + 5) % 5;
      const elapsedS = (after.atMs - before.atMs) / 1000;
      jumps.push(`${before.side}→${after.side}: moved ${movedS.toFixed(4)} s in ${clockS.toFixed(4)} s of audio clock, ${elapsedS.toFixed(3)} s of wall clock`);
      expect(after.side).toBe(to);
      expect(after.starts, 'a switch must not restart the sources').toBe(before.starts);
      expect(clockS, 'the audio clock runs').toBeGreaterThan(0);
      expect(Math.abs(movedS - clockS), jumps.join('; ')).toBeLessThan(0.001);
      // And on the wall clock, allowing the readout a few frames of lag on a loaded machine.
      expect(movedS, jumps.join('; ')).toBeLessThanOrEqual(elapsedS + 0.3);
      await sleep(500);
      heard[to].push(await heardDb(panel));
    }
    const meanA = heard.A.reduce((s, v) => s + v, 0) / heard.A.length;
    const meanB = heard.B.reduce((s, v) => s + v, 0) / heard.B.length;
    console.log(
      `A/B: ${jumps.join('; ')}; heard A ${heard.A.map((v) => v.toFixed(1)).join('/')} dBFS, B ${heard.B.map((v) => v.toFixed(1)).join('/')} dBFS; ` +
        `step ${(meanB - meanA).toFixed(2)} dB (relay PRE ${relayPreDb.toFixed(2)} dBFS, POST-PRE ${relayStepDb.toFixed(2)} dB)`,
    );
    expect(Math.abs(meanA - TONE_RMS_DBFS), 'A is the tone as sent').toBeLessThan(1);
    expect(Math.abs(meanA - relayPreDb), 'A is what the relay measured at PRE').toBeLessThan(1);
    for (const v of heard.A) expect(Math.abs(v - meanA)).toBeLessThan(0.5);
    for (const v of heard.B) expect(Math.abs(v - meanB)).toBeLessThan(0.5);
    expect(Math.abs(meanB - meanA - GAIN_DB), 'B is A turned down by the knob').toBeLessThan(1);
    expect(Math.abs(meanB - meanA - relayStepDb), 'the step heard is the relay\'s POST-PRE').toBeLessThan(1);

    // Seek: both sources restart together at the new offset.
    const beforeSeek = await readPanel(panel);
    await panel.locator('input[type="range"]').fill('2.5');
    const afterSeek = await waitFor(async () => {
      const r = await readPanel(panel);
      return r.starts > beforeSeek.starts ? r : undefined;
    }, 3_000, 'a frame after the seek');
    expect(afterSeek.starts).toBe(beforeSeek.starts + 1);
    expect(afterSeek.positionS).toBeGreaterThanOrEqual(2.5);
    expect(afterSeek.positionS).toBeLessThan(2.5 + (afterSeek.atMs - beforeSeek.atMs) / 1000 + 0.3);

    // Space pauses (the panel has focus); the position holds.
    await panel.focus();
    await page.keyboard.press(' ');
    await expect.poll(async () => (await readPanel(panel)).playing, { timeout: 3_000 }).toBe(false);
    const paused = await readPanel(panel);
    await sleep(300);
    expect((await readPanel(panel)).positionS).toBe(paused.positionS);

    // Retention removes the first bucket's audio (its metrics stay): the page says so.
    const first_ = (await api.buckets(traceId)).find((b) => b.station_key === stationKey);
    const firstMs = Date.parse(first_?.bucket_ts ?? '');
    await t.relay.writer.exclusive(() => t.relay.segments.sweep(firstMs + t.relay.config.segmentMaxAgeMs + 1));
    await stepTo(panel, new Date(firstMs).toISOString());
    await expect.poll(() => panel.getAttribute('data-state'), { timeout: 10_000 }).toBe('error');
    expect(await panel.getByTestId('ab-error').textContent()).toContain('not kept any more');

    // A token that may read snapshots but not audio: the page names the missing scope.
    const { token } = t.relay.tokens.create(['read:snapshots'], 'e2e no audio');
    await signIn(page, t.httpUrl, token);
    const limited = await openAndPickNewest(page, t.httpUrl, traceId, stationKey);
    await expect.poll(() => limited.getAttribute('data-state'), { timeout: 10_000 }).toBe('error');
    expect(await limited.getByTestId('ab-error').textContent()).toContain('lacks read:audio');
  }, 90_000);
});
