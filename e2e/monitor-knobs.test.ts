/**
 * The knob panel of /monitor/<trace_id> and the session's states, in real Chromium against a
 * real relay with a simulated station streaming a tone:
 *
 * - signed in as admin, the panel lists the registry's knobs with ranges, units and the
 *   station's values; an out-of-range value is refused in the page; a gain change applied
 *   from the panel appears in the event log as an operator's change with its reason, and
 *   turns verified once its bucket completes, as the relay's snapshot confirms;
 * - a token with only read:snapshots sees the panel read-only, and why;
 * - a mistyped or revoked token is refused in plain words, with the sign-in form offered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const GAIN_DB = -10;
const REASON = 'e2e: the operator turns the tone down';

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('knob panel and session states (Chromium, simulated station)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  let station: SimulatedStation;
  let streaming: Promise<void>;
  let traceId = '';
  let stationKey = '';

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    station = new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, -20, 1), RATE, 'pcm16'),
      label: 'e2e-knobs',
      durationS: 60,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });
    await station.connect();
    streaming = runStations([station]);
    traceId = station.started?.trace_id as string;
    stationKey = station.started?.station_key as string;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    station?.stop();
    await browser?.close();
    await streaming;
    await t?.close();
  });

  const panel = () => browser.page.locator(`[data-testid="knob-panel"][data-station-key="${stationKey}"]`);
  const gainInput = () => panel().locator('[data-testid="knob-row"][data-knob="pcm.input_gain_db"]').getByTestId('knob-input');

  it('applies a gain change from the panel: logged as the operator\'s, verified once its bucket completes', async () => {
    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    expect(await page.getByTestId('session').getAttribute('data-state')).toBe('signed-in');
    expect(await page.getByTestId('session').getAttribute('data-scopes')).toBe('read:snapshots, read:audio, write:knobs, ingest, admin');
    await page.goto(`${t.httpUrl}/monitor/${traceId}`);
    // The panel comes with the station's first complete bucket.
    await panel().waitFor({ timeout: 20_000 });
    expect(await panel().getAttribute('data-readonly')).toBe('false');
    // The table is folded under a summary line until asked for.
    await panel().getByTestId('knob-summary').click();
    const rows = panel().getByTestId('knob-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(13);
    const gainRow = panel().locator('[data-testid="knob-row"][data-knob="pcm.input_gain_db"]');
    expect((await gainRow.innerText()).replace(/\s+/g, ' ')).toContain('0 -40 … 40 dB');
    expect(await gainInput().inputValue()).toBe('0');

    const applyButton = panel().getByTestId('knob-apply');
    expect(await applyButton.isDisabled()).toBe(true); // nothing changed yet
    await gainInput().fill('99');
    expect(await panel().getByTestId('knob-invalid').textContent()).toBe('pcm.input_gain_db: 99 is outside -40 to 40 dB');
    expect(await applyButton.isDisabled()).toBe(true);

    await gainInput().fill(String(GAIN_DB));
    await panel().getByTestId('knob-reason').fill(REASON);
    expect(await applyButton.isDisabled()).toBe(false);
    const clickedMs = Date.now();
    await applyButton.click();
    await panel().getByTestId('knob-scheduled').waitFor({ timeout: 10_000 });
    expect(await panel().getByTestId('knob-scheduled').textContent()).toContain(`pcm.input_gain_db ${GAIN_DB}`);

    // The change is in the log at once (the page refreshes its history after applying).
    const row = page.getByTestId('knob-event');
    await row.waitFor({ timeout: 5000 });
    expect(await row.count()).toBe(1);
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('operator');
    expect(text).toContain(REASON);
    expect(text).toContain('pcm.input_gain_db');
    const applyMs = Date.parse((await row.locator('time').getAttribute('datetime')) as string);
    expect(applyMs % 5000).toBe(0);
    // The next boundary at least 1.5 s ahead of the click: at most 6.5 s after it.
    expect(applyMs - clickedMs).toBeGreaterThan(1000);
    expect(applyMs - clickedMs).toBeLessThanOrEqual(6500);
    expect(await row.getAttribute('data-state')).toBe('pending');

    await expect.poll(async () => row.getAttribute('data-state'), { timeout: 30_000, interval: 500 }).toBe('verified');
    const at = (await api.buckets(traceId)).find((b) => b.station_key === stationKey && Date.parse(b.bucket_ts) === applyMs);
    expect(at?.knobs_snapshot['pcm.input_gain_db']).toBe(GAIN_DB);
    const events = await api.get<{ events: { source: string | null; reason: string | null; knobs_effective: Record<string, number> }[] }>(
      `/api/optimizer/events?trace_id=${traceId}`,
    );
    expect(events.events).toEqual([expect.objectContaining({ source: 'operator', reason: REASON, knobs_effective: { 'pcm.input_gain_db': GAIN_DB } })]);
    // The panel's "now" follows the buckets.
    const current = panel().locator('[data-testid="knob-row"][data-knob="pcm.input_gain_db"]').getByTestId('knob-current');
    await expect.poll(() => current.textContent(), { timeout: 10_000 }).toBe(String(GAIN_DB));
    expect(await panel().getByTestId('knob-summary').textContent()).toContain(`in force pcm.input_gain_db ${GAIN_DB} dB`);
  }, 90_000);

  it('is read-only, and says why, for a token with only read:snapshots', async () => {
    const { page } = browser;
    const { token } = t.relay.tokens.create(['read:snapshots'], 'e2e viewer');
    await signIn(page, t.httpUrl, token);
    expect(await page.getByTestId('session').getAttribute('data-scopes')).toBe('read:snapshots');
    await page.goto(`${t.httpUrl}/monitor/${traceId}`);
    await panel().waitFor({ timeout: 15_000 });
    expect(await panel().getByTestId('knob-readonly').textContent()).toBe('Read-only: this token lacks write:knobs.');
    expect(await panel().getAttribute('data-readonly')).toBe('true');
    expect(await panel().getByTestId('knob-apply').isDisabled()).toBe(true);
    const inputs = panel().getByTestId('knob-input');
    await expect.poll(() => inputs.count(), { timeout: 10_000 }).toBe(13);
    for (let i = 0; i < 13; i++) expect(await inputs.nth(i).isDisabled()).toBe(true);
    // What it may read, it still sees: the change made before, in the log.
    await page.getByTestId('knob-event').waitFor({ timeout: 10_000 });
  }, 60_000);

  it('says plainly when the relay refuses a mistyped or revoked token, and offers to sign in again', async () => {
    const { page } = browser;
    await page.goto(`${t.httpUrl}/?token=tw_mistyped-mistyped-mistyped-mistyped`);
    const session = page.getByTestId('session');
    await page.locator('[data-testid="session"][data-state="refused"]').waitFor({ timeout: 10_000 });
    expect(await session.textContent()).not.toContain('signed in');
    const refused = page.getByTestId('session-refused');
    expect(await refused.textContent()).toContain('The relay refused this token (revoked or mistyped)');
    expect(await refused.getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('sign-in-form').isVisible()).toBe(true);
    // The token left the address bar.
    expect(new URL(page.url()).search).toBe('');

    // A good token pasted into the form signs in...
    await page.getByTestId('sign-in-token').fill(t.relay.adminToken as string);
    await page.getByTestId('sign-in-submit').click();
    await session.getByText('signed in').waitFor({ timeout: 10_000 });
    expect(await session.getAttribute('data-state')).toBe('signed-in');
    expect(await page.getByTestId('sign-in-form').count()).toBe(0);

    // ...signing out forgets it...
    await page.getByTestId('sign-out').click();
    expect(await session.getAttribute('data-state')).toBe('signed-out');
    expect(await page.evaluate(() => localStorage.getItem('tapwire.token'))).toBeNull();

    // ...and a revoked token pasted into the form is refused like a mistyped one.
    const revoked = t.relay.tokens.create(['read:snapshots', 'write:knobs'], 'e2e revoked');
    expect(t.relay.tokens.revoke(revoked.id)).toBe(true);
    await page.getByTestId('sign-in-open').click();
    await page.getByTestId('sign-in-token').fill(revoked.token);
    await page.getByTestId('sign-in-submit').click();
    await page.locator('[data-testid="session"][data-state="refused"]').waitFor({ timeout: 10_000 });
    expect(await refused.textContent()).toContain('The relay refused this token (revoked or mistyped): the token is unknown or revoked.');
  }, 60_000);
});
