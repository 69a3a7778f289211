/**
 * The monitor's past-traces search and its per-station Listen button, in real Chromium
 * against a real relay serving the built app:
 *
 * - traces of every sort: two live simulated stations streaming tones, one that streamed
 *   and ended, a recorded trace uploaded as the capture app uploads an offline recording
 *   (the upload API, Ogg Opus packets), and older traces in the relay's store. The search
 *   pages through them two at a time and its filters (kind, activity, label, time range)
 *   return the rows the relay's own API returns; the filters survive a reload (they are in
 *   the address); a token without read:snapshots gets an error that names the scope;
 * - Listen on a live station plays its POST tap in place: the level measured at the page's
 *   output is the station's level (within 3 dB of the relay's POST meter), Listen on the
 *   other station switches to it (one plays at a time), and Stop ends the listener.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Measurement } from '../protocol/telemetry.ts';
import type { TraceListResponse } from '../protocol/traces.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { chunkOf, createBody, opusTone, uploadClient } from '../relay/src/testing/upload-client.ts';
import { signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const ms = (iso: string): number => Date.parse(iso);
/** Older traces in the store: [trace_id, started_at, ended_at, label]. */
const ARCHIVE: [string, string, string, string][] = [
  ['trace_archive_1', '2025-06-10T09:00:00.000Z', '2025-06-10T09:30:00.000Z', 'e2e-archive-north'],
  ['trace_archive_2', '2025-06-11T09:00:00.000Z', '2025-06-11T09:30:00.000Z', 'e2e-archive-south'],
  ['trace_archive_3', '2025-06-12T09:00:00.000Z', '2025-06-12T09:30:00.000Z', 'e2e-archive-east'],
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('monitor: past traces and Listen (Chromium)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  const stations: SimulatedStation[] = [];
  let streaming: Promise<void> = Promise.resolve();
  let loud: SimulatedStation;
  let quiet: SimulatedStation;
  let endedTrace = '';
  let recordedTrace = '';

  const tone = (peakDbfs: number, label: string, durationS: number): SimulatedStation =>
    new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, peakDbfs, 1), RATE, 'pcm16'),
      label,
      durationS,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);

    for (const [traceId, startedAt, endedAt, label] of ARCHIVE) {
      t.relay.store.insertTrace({ trace_id: traceId, kind: 'live', started_at: ms(startedAt), ended_at: ms(endedAt), call_id: null });
      t.relay.store.insertStation({
        trace_id: traceId, station_key: 'st_archive', label, codec: 'opus', sample_rate: 48000, stream_id: `archive${traceId}`,
        started_at: ms(startedAt), ended_at: ms(endedAt), end_reason: 'stop', client: 'token:e2e',
      });
    }

    // A recorded trace, uploaded as the capture app uploads an offline recording.
    const up = uploadClient(t.httpUrl, t.relay.adminToken as string);
    expect((await up.create('e2e-desk', createBody(Date.now() - 10 * 60_000, 'e2e-recorded-desk'))).status).toBe(201);
    expect((await up.chunk('e2e-desk', 0, chunkOf(opusTone(440, -12, 2), 0))).status).toBe(200);
    expect((await up.part('e2e-desk', 0, 100)).status).toBe(200);
    recordedTrace = (await up.state('e2e-desk')).json.trace_id;

    // A live trace that ends, then two that stream on.
    const gone = tone(-20, 'e2e-gone-kitchen', 1);
    endedTrace = (await gone.connect()).trace_id;
    await runStations([gone]);
    loud = tone(-20, 'e2e-tone-lobby', 90);
    quiet = tone(-36, 'e2e-tone-hall', 90);
    stations.push(loud, quiet);
    for (const s of stations) await s.connect();
    streaming = runStations(stations);

    await waitFor(async () => ((await api.trace(endedTrace)).ended_at !== null ? true : undefined), 10_000, 'the kitchen trace to end');
    await waitFor(async () => ((await api.trace(recordedTrace)).ended_at !== null ? true : undefined), 20_000, 'the upload to be processed');
    browser = await launchChromium();
    await signIn(browser.page, t.httpUrl, t.relay.adminToken as string);
  }, 180_000);

  afterAll(async () => {
    for (const s of stations) s.stop();
    await browser?.close();
    await Promise.race([streaming, sleep(5000)]);
    await t?.close();
  });

  /** The relay's own answer for a query: the rows the page must show. */
  const relayIds = async (query: string): Promise<string[]> => (await api.get<TraceListResponse>(`/api/traces?${query}`)).traces.map((x) => x.trace_id);

  /** The rows on the page once its search has settled. */
  async function rowsSettled(page: Page, expected: string[]): Promise<string[]> {
    let ids: string[] = [];
    await expect
      .poll(
        async () => {
          const loading = await page.getByTestId('trace-paging').getAttribute('data-loading');
          ids = await page.getByTestId('trace-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-trace-id') ?? ''));
          return loading === 'false' ? ids : null;
        },
        { timeout: 10_000 },
      )
      .toEqual(expected);
    return ids;
  }

  it('pages through every trace and filters by kind, activity, label and time as the relay does', async () => {
    const { page } = browser;
    const all = await relayIds('');
    expect(all).toHaveLength(ARCHIVE.length + 4);
    expect(all.slice(2, 4)).toEqual([endedTrace, recordedTrace]);

    await page.goto(`${t.httpUrl}/monitor?per_page=2`);
    await rowsSettled(page, all.slice(0, 2));
    for (let shown = 2; shown < all.length; shown += 2) {
      await page.getByTestId('trace-load-more').click();
      await rowsSettled(page, all.slice(0, shown + 2));
    }
    expect(await page.getByTestId('trace-load-more').count()).toBe(0);
    const recordedRow = page.locator(`[data-testid="trace-row"][data-trace-id="${recordedTrace}"]`);
    expect(await recordedRow.getAttribute('data-kind')).toBe('recorded');
    expect(await recordedRow.getByTestId('trace-row-labels').textContent()).toContain('e2e-recorded-desk');
    const liveRow = page.locator(`[data-testid="trace-row"][data-trace-id="${loud.started?.trace_id}"]`);
    expect(await liveRow.getAttribute('data-active')).toBe('true');

    // Kind and activity: the selects, one change at a time.
    await page.getByTestId('trace-search-kind').selectOption('recorded');
    await rowsSettled(page, [recordedTrace]);
    expect(new URL(page.url()).searchParams.get('kind')).toBe('recorded');
    await page.getByTestId('trace-search-kind').selectOption('live');
    await page.getByTestId('trace-search-activity').selectOption('active');
    const active = await relayIds('kind=live&active=true');
    expect([...active].sort()).toEqual([loud.started?.trace_id, quiet.started?.trace_id].sort());
    await rowsSettled(page, active);
    await page.getByTestId('trace-search-activity').selectOption('ended');
    await rowsSettled(page, (await relayIds('kind=live&active=false&limit=2')));

    // The label, typed (the search runs after a pause), in another case.
    await page.getByTestId('trace-search-activity').selectOption('all');
    await page.getByTestId('trace-search-kind').selectOption('all');
    await page.getByTestId('trace-search-label').fill('KITCHEN');
    await rowsSettled(page, [endedTrace]);
    expect(new URL(page.url()).searchParams.get('label')).toBe('KITCHEN');

    // The address holds the search: a reload shows the same filters and rows.
    await page.reload();
    await rowsSettled(page, [endedTrace]);
    expect(await page.getByTestId('trace-search-label').inputValue()).toBe('KITCHEN');

    // Nothing matches: the empty state.
    await page.getByTestId('trace-search-label').fill('no-such-station');
    await rowsSettled(page, []);
    expect(await page.getByTestId('trace-search-empty').textContent()).toContain('No trace matches these filters');

    // A local-time range around the archive's second and third days: the relay's answer for the same instants.
    await page.getByTestId('trace-search-label').fill('archive');
    await page.getByTestId('trace-search-from').fill('2025-06-11T00:00');
    await page.getByTestId('trace-search-to').fill('2025-06-13T00:00');
    const [from, to] = await page.evaluate(() => [new Date('2025-06-11T00:00').toISOString(), new Date('2025-06-13T00:00').toISOString()]);
    const inRange = await relayIds(`label=archive&from=${from}&to=${to}`);
    expect(inRange).toEqual(['trace_archive_3', 'trace_archive_2']);
    await rowsSettled(page, inRange);

    // A recorded trace's link opens its history page.
    await page.goto(`${t.httpUrl}/monitor?kind=recorded`);
    await rowsSettled(page, [recordedTrace]);
    await page.getByTestId('trace-row-link').click();
    await page.waitForURL((u) => u.pathname === `/monitor/${recordedTrace}`, { timeout: 10_000 });
  }, 90_000);

  it('names the missing scope to a token without read:snapshots', async () => {
    const page = await browser.context.newPage();
    const ingestOnly = t.relay.tokens.create(['ingest'], 'monitor-traces e2e').token;
    await signIn(page, t.httpUrl, ingestOnly);
    await page.goto(`${t.httpUrl}/monitor`);
    await expect.poll(() => page.getByTestId('trace-search-error').textContent().catch(() => ''), { timeout: 10_000 }).toContain('read:snapshots');
    expect(await page.getByTestId('trace-row').count()).toBe(0);
    // Back to the admin token for the next test (the token is stored per profile).
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await page.close();
  }, 30_000);

  it('Listen plays a live station in place at its level, switches stations, and Stop ends it', async () => {
    const { page } = browser;
    await page.goto(`${t.httpUrl}/monitor`);
    const panel = (s: SimulatedStation) => page.locator(`[data-testid="station"][data-station-key="${s.started?.station_key}"]`);

    /** The page's played level (its AnalyserNode, as the readout shows it) and the relay's POST RMS, over ~1.5 s. */
    async function levels(s: SimulatedStation): Promise<{ played: number; relay: number }> {
      const level = panel(s).getByTestId('listen-level');
      await expect.poll(async () => Number(await level.getAttribute('data-value')), { timeout: 10_000 }).toBeGreaterThan(-60);
      await sleep(1000); // past the meter's attack
      const played: number[] = [];
      const relay: number[] = [];
      for (let i = 0; i < 8; i++) {
        played.push(Number(await level.getAttribute('data-value')));
        const m = (await (await fetch(`${t.httpUrl}/measurements`)).json()) as Measurement;
        const post = m.stations[s.started?.station_key as string]?.POST.rms_dbfs;
        if (post !== undefined) relay.push(post);
        await sleep(200);
      }
      return { played: median(played), relay: median(relay) };
    }

    await panel(loud).getByTestId('listen-button').click({ timeout: 15_000 });
    const a = await levels(loud);
    expect(await panel(loud).getByTestId('listen').getAttribute('data-status')).toBe('live');
    const detail = (await api.trace(loud.started?.trace_id as string)).stations[0];
    expect(await panel(loud).getByTestId('listen-page-link').getAttribute('href')).toBe(`/listen/${detail.stream_id}?mode=lowlatency`);
    expect(t.relay.listen.listenerCount).toBe(1);

    // The other station: the first stops, one listener stays.
    await panel(quiet).getByTestId('listen-button').click();
    const b = await levels(quiet);
    expect(await panel(loud).getByTestId('listen').getAttribute('data-playing')).toBe('false');
    await waitFor(() => (t.relay.listen.listenerCount === 1 ? true : undefined), 5000, 'one listener');
    console.log(`listen on /monitor: lobby played ${a.played.toFixed(2)} dBFS (relay POST ${a.relay.toFixed(2)}), hall played ${b.played.toFixed(2)} dBFS (relay POST ${b.relay.toFixed(2)})`);
    expect(Math.abs(a.played - a.relay), 'lobby: played vs relay POST').toBeLessThan(3);
    expect(Math.abs(b.played - b.relay), 'hall: played vs relay POST').toBeLessThan(3);
    expect(a.played - b.played, 'the 16 dB quieter station plays quieter').toBeGreaterThan(10);

    // Stop: the player closes and the relay's listener goes.
    await panel(quiet).getByTestId('listen-stop').click();
    expect(await panel(quiet).getByTestId('listen').getAttribute('data-playing')).toBe('false');
    expect(await page.evaluate(() => (window as { __tapwireListen?: unknown }).__tapwireListen === undefined)).toBe(true);
    await waitFor(() => (t.relay.listen.listenerCount === 0 ? true : undefined), 5000, 'no listener after Stop');
  }, 60_000);
});
