/**
 * The listen page in real Chromium against a real relay serving the built app:
 * a simulated station streams a known signal to `/ws/ingest`; a listener page opens
 * `/listen/<stream_id>` and plays it through the MSE player, then through the low-latency
 * player (`?mode=lowlatency`).
 *
 * The station's signal is a marker as well as a level: a 1 kHz tone at -12 dBFS peak
 * (RMS -15.05 dBFS) for 3.2 s, then 0.8 s of silence, over and over. Each tone's onset is a
 * burst after silence whose capture time the test knows (the station sends packet n at its
 * start + 20·n ms, and a microphone would have had its first sample 20 ms before), so the
 * time it comes out of the page is the whole path's latency. The MSE page is timed from its
 * level readings (100 ms resolution); the low-latency page's worklet timestamps the onset
 * to the sample.
 *
 * The page is reached through a small TCP proxy of the test's own, so the test can cut the
 * listen socket like a network failure would; the relay behind it is untouched.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Page } from 'playwright-core';
import type { RelayStats } from '../protocol/api.ts';
import type { Measurement } from '../protocol/telemetry.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import type { ListenProbe } from '../app/lib/listen/listen-session.svelte.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RATE, rmsDbfs } from './support/audio.ts';

const FRAME_MS = 20;
const TONE_S = 3.2;
const PERIOD_S = 4;
const PACKETS_PER_PERIOD = (PERIOD_S * 1000) / FRAME_MS;

/** One period: the tone (starting at phase 0, so its first samples are the onset), then silence. */
function markerPeriod(): Float32Array {
  const x = new Float32Array(PERIOD_S * RATE);
  const a = 10 ** (-12 / 20);
  for (let i = 0; i < TONE_S * RATE; i++) x[i] = a * Math.sin((2 * Math.PI * 1000 * i) / RATE);
  return x;
}
const PERIOD = markerPeriod();
const TONE_RMS_DBFS = rmsDbfs(PERIOD, 0, TONE_S * RATE);

/** Epoch ms with sub-ms precision (the page's `performance.timeOrigin + performance.now()` is the same clock). */
const epochMs = (): number => performance.timeOrigin + performance.now();

/**
 * A station that streams the marker signal in real time and notes when each onset packet
 * went out. Pumped every 2 ms (the simulator's own loop ticks at 5).
 */
class MarkerStation {
  readonly sim: SimulatedStation;
  /** Capture time (epoch ms) of each onset sent: the send time of its packet less one frame. */
  readonly onsets: number[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(url: string, durationS: number) {
    this.sim = new SimulatedStation({ url, audio: encodeAudio(PERIOD, RATE, 'opus'), label: 'e2e-marker', durationS });
  }

  async start(): Promise<{ streamId: string; stationKey: string }> {
    const started = await this.sim.connect();
    this.timer = setInterval(() => {
      const before = this.sim.framesSent;
      const going = this.sim.pump(performance.now());
      const now = epochMs();
      for (let n = before; n < this.sim.framesSent; n++) if (n % PACKETS_PER_PERIOD === 0) this.onsets.push(now - FRAME_MS);
      if (!going) this.stopPumping();
    }, 2);
    return { streamId: started.stream_id, stationKey: started.station_key };
  }

  stopPumping(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The latest onset captured before `t` (epoch ms), or undefined. */
  onsetBefore(t: number): number | undefined {
    let best: number | undefined;
    for (const o of this.onsets) if (o < t && (best === undefined || o > best)) best = o;
    return best;
  }

  stop(): void {
    this.stopPumping();
    this.sim.stop();
  }
}

/**
 * A TCP proxy in front of the relay that can cut its listen sockets (a network failure).
 * With `isolation: false` it renames the relay's Cross-Origin-Embedder-Policy header in every
 * response head, so the page is not cross-origin isolated (no SharedArrayBuffer): the
 * players' fallback paths.
 */
class CuttableProxy {
  url = '';
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; listen: boolean }>();

  constructor(target: URL, opts: { isolation: boolean } = { isolation: true }) {
    this.server = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
      const pair = { client, upstream, listen: false };
      this.pairs.add(pair);
      client.once('data', (chunk: Buffer) => {
        pair.listen = chunk.subarray(0, 64).toString('latin1').startsWith('GET /ws/listen');
      });
      client.pipe(upstream);
      if (opts.isolation) upstream.pipe(client);
      else upstream.on('data', (chunk: Buffer) => client.write(withoutCoep(chunk)));
      const done = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', done).on('close', done);
      upstream.on('error', done).on('close', done);
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  /** Drops every open listen socket without a close frame; returns how many. */
  cutListenSockets(): number {
    let n = 0;
    for (const p of [...this.pairs]) {
      if (!p.listen) continue;
      p.client.destroy();
      p.upstream.destroy();
      this.pairs.delete(p);
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The same bytes with an HTTP response head's COEP header renamed (same length: nothing else moves). */
function withoutCoep(chunk: Buffer): Buffer {
  const text = chunk.toString('latin1');
  if (!text.startsWith('HTTP/1.1')) return chunk;
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd < 0 ? text.length : headEnd);
  const renamed = head.replace(/cross-origin-embedder-policy:/i, 'x-origin-embedder-policy-off:');
  return renamed === head ? chunk : Buffer.concat([Buffer.from(renamed, 'latin1'), chunk.subarray(head.length)]);
}

const probe = (page: Page): Promise<ListenProbe | null> => page.evaluate(() => window.__tapwireListen ?? null);

/** The page's clock less ours (both epoch ms), measured across one round trip. */
async function clockOffsetMs(page: Page): Promise<number> {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 5; i++) {
    const before = epochMs();
    const pageNow = await page.evaluate(() => performance.timeOrigin + performance.now());
    const after = epochMs();
    if (after - before < best.rtt) best = { rtt: after - before, offset: pageNow - (before + after) / 2 };
  }
  return best.offset;
}

/** The relay's POST RMS for the station now (GET /measurements). */
async function relayPostRms(t: TestRelay, stationKey: string): Promise<number | undefined> {
  const res = await fetch(`${t.httpUrl}/measurements`);
  const m = (await res.json()) as Measurement;
  return m.stations[stationKey]?.POST.rms_dbfs;
}

/** The relay's jitter buffer for the station: mean delay and target, ms (for the printed figures). */
async function relayJitter(t: TestRelay, stationKey: string): Promise<string> {
  const res = await fetch(`${t.httpUrl}/api/relay/stats`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } });
  if (!res.ok) return `relay stats ${res.status}`;
  const stats = (await res.json()) as RelayStats;
  const q = stats.stations.find((s) => s.station_key === stationKey)?.call_quality;
  return q === undefined ? 'no call quality' : `relay jitter buffer ${q.jitter_buffer_delay_ms?.toFixed(1)} ms (target ${q.jitter_buffer_target_ms.toFixed(1)})`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

/** Waits until the page plays (status live, time advancing) and returns the probe. */
async function waitPlaying(page: Page, timeoutMs: number, what: string): Promise<ListenProbe> {
  let last: ListenProbe | null = null;
  return waitFor(async () => {
    const p = await probe(page);
    const ok = p !== null && p.status === 'live' && last !== null && p.currentTime > last.currentTime;
    last = p;
    return ok ? (p as ListenProbe) : undefined;
  }, timeoutMs, what);
}

interface Watch {
  /** Page-measured latency figures. */
  latencies: number[];
  /** Marker latencies, ms (capture to played). */
  markers: number[];
  /** The player's buffer and target at each marker, ms ("buffer/target"; low-latency player only). */
  buffers: string[];
  pageLevels: number[];
  relayLevels: number[];
  statuses: Set<string>;
  last: ListenProbe;
}

/**
 * Watches a playing page for `seconds`: its own latency figure, the marker latency of every
 * onset it plays, its level and the relay's POST level while the tone plays.
 */
async function watch(page: Page, t: TestRelay, station: MarkerStation, stationKey: string, seconds: number, mode: 'mse' | 'packets', opts: { restarting?: boolean } = {}): Promise<Watch> {
  const offset = await clockOffsetMs(page);
  const w: Watch = { latencies: [], markers: [], buffers: [], pageLevels: [], relayLevels: [], statuses: new Set(), last: (await probe(page)) as ListenProbe };
  const end = Date.now() + seconds * 1000;
  let lastOnsetWall: number | null = w.last.playout?.lastOnsetWallMs ?? null;
  let quiet = false;
  // A player that (re)starts during the watch may start in the middle of a tone: its first
  // sound after the silence of the pause is no onset, so an onset then needs sound, silence, sound.
  let heardSound = opts.restarting !== true;
  while (Date.now() < end) {
    const p = (await probe(page)) as ListenProbe;
    w.last = p;
    w.statuses.add(p.status);
    if (p.latency !== null) w.latencies.push(p.latency);
    if (mode === 'packets') {
      const at = p.playout?.lastOnsetWallMs ?? null;
      if (at !== null && at !== lastOnsetWall) {
        lastOnsetWall = at;
        const played = at - offset;
        const captured = station.onsetBefore(played);
        if (captured !== undefined) {
          w.markers.push(played - captured);
          w.buffers.push(`${p.playout?.bufferMs.toFixed(0)}/${p.playout?.targetMs.toFixed(0)}`);
        }
      }
    } else {
      // The level probe's peak over the last 50 ms, read every 100 ms: an onset is the
      // first reading over -30 dBFS after one under -60.
      if (p.peak > -30 && !heardSound) heardSound = true;
      else if (p.peak < -60 && heardSound) quiet = true;
      else if (quiet && p.peak > -30) {
        quiet = false;
        const played = epochMs();
        const captured = station.onsetBefore(played);
        if (captured !== undefined) w.markers.push(played - captured);
      }
    }
    if (p.level > -30) w.pageLevels.push(p.level);
    const r = await relayPostRms(t, stationKey);
    if (r !== undefined && r > -30) w.relayLevels.push(r);
    await sleep(mode === 'packets' ? 100 : 50);
  }
  return w;
}

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH})`, hasChromium))('listen page (Chromium, real relay)', () => {
  let t: TestRelay;
  let proxy: CuttableProxy;
  let browser: Browser;

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    proxy = new CuttableProxy(new URL(t.httpUrl));
    await proxy.start();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await t?.close();
  });

  for (const mode of ['mse', 'packets'] as const) {
    it(`${mode === 'mse' ? 'MSE' : 'low-latency'} player: first audio under 1 s, near live for 30 s, level within 2 dB of the relay's POST meter, survives a dropped socket, pauses and resumes at live, ends`, async () => {
      const station = new MarkerStation(t.wsUrl, 120);
      const { streamId, stationKey } = await station.start();
      // The station has been live a while when the listener comes.
      await sleep(2500);

      const page = await browser.context.newPage();
      // A failure must not leave this page's listen socket open for the next test's proxy cut.
      try {
        const query = mode === 'packets' ? '?mode=lowlatency' : '';
        const openedAt = epochMs();
        await page.goto(`${proxy.url}/listen/${streamId}${query}`);
        const first = await waitPlaying(page, 10_000, 'the page to play');
        const openToPlayingMs = epochMs() - openedAt;
        expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
        expect(first.mode).toBe(mode);
        expect(first.label).toBe('e2e-marker');
        const ttfa = first.pageToFirstAudioMs as number;
        console.log(`${mode}: first audio ${ttfa.toFixed(0)} ms after the page opened (player: ${first.timeToFirstAudioMs?.toFixed(0)} ms; seen playing by the test after ${openToPlayingMs.toFixed(0)} ms)`);
        expect(ttfa, 'time to first audio from the page opening').toBeLessThan(1000);
        expect(await page.getByTestId('listen-status').getAttribute('data-state')).toBe('live');

        // 30 s of listening.
        const w = await watch(page, t, station, stationKey, 30, mode);
        const maxLatency = Math.max(...w.latencies);
        const pageLevel = median(w.pageLevels);
        const relayLevel = median(w.relayLevels);
        console.log(
          `${mode}: 30 s: page latency ${Math.min(...w.latencies).toFixed(3)}-${maxLatency.toFixed(3)} s; marker (capture to played) ${w.markers.map((m) => m.toFixed(0)).join(', ')} ms` + (w.buffers.length > 0 ? ` (player buffer/target ${w.buffers.join(', ')} ms); ` : '; ') +
            `level page ${pageLevel.toFixed(2)} dBFS vs relay POST ${relayLevel.toFixed(2)} dBFS (tone ${TONE_RMS_DBFS.toFixed(2)}); stalls ${w.last.stalls}; statuses ${[...w.statuses].join('/')}` +
            (w.last.playout ? `; jitter buffer ${w.last.playout.bufferMs.toFixed(0)} ms, target ${w.last.playout.targetMs.toFixed(1)} ms, jitter ${w.last.playout.jitterMs.toFixed(2)} ms, concealed ${w.last.playout.concealedFrames}, late ${w.last.playout.lateFrames}, dropped ${w.last.playout.skippedFrames}, decoder ${w.last.playout.decoder} (${w.last.playout.path})` : '') +
            `; ${await relayJitter(t, stationKey)}`,
        );
        expect([...w.statuses]).toEqual(['live']);
        expect(w.last.stalls).toBe(0);
        expect(maxLatency, 'latency behind live, as the page measures it').toBeLessThan(1.5);
        // Every onset of the 30 s was heard (7 or 8 at one every 4 s), each within the bound.
        expect(w.markers.length).toBeGreaterThanOrEqual(6);
        expect(Math.max(...w.markers), 'capture-to-playback latency of the markers').toBeLessThan(mode === 'packets' ? 150 : 1500);
        expect(Math.min(...w.markers)).toBeGreaterThan(0);
        expect(Math.abs(pageLevel - relayLevel), 'played level vs the relay POST meter').toBeLessThan(2);
        expect(Math.abs(pageLevel - TONE_RMS_DBFS)).toBeLessThan(2);
        // client_metrics every 5 s.
        expect(w.last.metricsSent).toBeGreaterThanOrEqual(5);
        if (mode === 'mse') {
          // Played audio is removed: the SourceBuffer holds at most ~15 s behind the playhead.
          const behind = await page.evaluate(() => {
            const a = document.querySelector('audio') as HTMLAudioElement;
            return a.currentTime - a.buffered.start(0);
          });
          console.log(`mse: ${behind.toFixed(1)} s buffered behind the playhead after ${w.last.currentTime.toFixed(1)} s of playback`);
          expect(behind).toBeLessThan(16);
          expect(w.last.currentTime).toBeGreaterThan(20);
        }
        const relayStallsBefore = t.relay.listen.counters.clientStalls;

        // The network drops the listen socket: the page reconnects by itself and plays again.
        expect(proxy.cutListenSockets()).toBe(1);
        const back = await waitFor(async () => {
          const p = await probe(page);
          return p !== null && p.reconnects >= 1 ? p : undefined;
        }, 10_000, 'a reconnection');
        const replay = await waitPlaying(page, 10_000, 'playing again after the reconnection');
        const afterCut = await watch(page, t, station, stationKey, 6, mode);
        console.log(`${mode}: reconnected (${back.reconnects}), playing again; latency after ${Math.max(...afterCut.latencies).toFixed(3)} s, markers ${afterCut.markers.map((m) => m.toFixed(0)).join(', ')} ms, stalls ${afterCut.last.stalls}`);
        expect(replay.status).toBe('live');
        expect(Math.max(...afterCut.latencies)).toBeLessThan(1.5);
        // A stall the page saw reaches the relay in its client_metrics (the relay sums them).
        if (afterCut.last.stalls > 0) {
          await waitFor(() => (t.relay.listen.counters.clientStalls > relayStallsBefore ? true : undefined), 8000, 'the relay to hear of the stall');
        }

        // Pause: the player stops; resume: it plays again at the live edge.
        await page.getByTestId('pause').click();
        const paused = await waitFor(async () => {
          const p = await probe(page);
          return p?.status === 'paused' ? p : undefined;
        }, 3000, 'paused');
        await sleep(3000);
        const stillPaused = (await probe(page)) as ListenProbe;
        expect(stillPaused.status).toBe('paused');
        expect(stillPaused.currentTime - paused.currentTime).toBeLessThan(0.3);
        await page.getByTestId('resume').click();
        await waitPlaying(page, 5000, 'playing after resume');
        const resumed = await watch(page, t, station, stationKey, 6, mode, { restarting: true });
        console.log(`${mode}: resumed; latency ${Math.max(...resumed.latencies).toFixed(3)} s, markers ${resumed.markers.map((m) => m.toFixed(0)).join(', ')} ms`);
        expect(Math.max(...resumed.latencies), 'latency after resume (jumped to live)').toBeLessThan(1.5);
        if (resumed.markers.length > 0) expect(Math.max(...resumed.markers)).toBeLessThan(mode === 'packets' ? 150 : 1500);

        // The station stops: the page says so.
        station.stop();
        const ended = await waitFor(async () => {
          const p = await probe(page);
          return p?.status === 'ended' ? p : undefined;
        }, 10_000, 'ended');
        expect(ended.status).toBe('ended');
        expect(await page.getByTestId('listen-status').getAttribute('data-state')).toBe('ended');
      } finally {
        station.stop();
        await page.close();
      }
    }, 170_000);
  }
  it('low-latency player with the WebAssembly decoder: plays, level within 2 dB, markers under 150 ms', async () => {
    const station = new MarkerStation(t.wsUrl, 60);
    const { streamId, stationKey } = await station.start();
    await sleep(1500);
    const page = await browser.context.newPage();
    await page.goto(`${proxy.url}/listen/${streamId}?mode=lowlatency&decoder=wasm`);
    const first = await waitPlaying(page, 10_000, 'the page to play');
    const w = await watch(page, t, station, stationKey, 12, 'packets');
    const pageLevel = median(w.pageLevels);
    const relayLevel = median(w.relayLevels);
    console.log(`wasm decoder: first audio ${first.pageToFirstAudioMs?.toFixed(0)} ms after the page opened; markers ${w.markers.map((m) => m.toFixed(0)).join(', ')} ms; level page ${pageLevel.toFixed(2)} vs relay POST ${relayLevel.toFixed(2)} dBFS; concealed ${w.last.playout?.concealedFrames}`);
    expect(w.last.playout?.decoder).toBe('wasm');
    expect(w.last.decodeErrors).toBe(0);
    expect(w.markers.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...w.markers)).toBeLessThan(150);
    expect(Math.abs(pageLevel - relayLevel)).toBeLessThan(2);
    station.stop();
    await page.close();
  }, 90_000);

  it('without Media Source Extensions the page says so and offers the low-latency mode, which plays', async () => {
    const station = new MarkerStation(t.wsUrl, 60);
    const { streamId } = await station.start();
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      delete w.MediaSource;
      delete w.ManagedMediaSource;
    });
    await page.goto(`${proxy.url}/listen/${streamId}`);
    const offer = page.getByTestId('mse-unsupported');
    await offer.waitFor({ timeout: 10_000 });
    expect(await offer.textContent()).toContain('Listen in low-latency mode');
    expect((await probe(page))?.status).toBe('error');
    expect(await page.getByTestId('listen-error').textContent()).toContain('no Media Source Extensions');
    await offer.getByRole('link').click();
    const playing = await waitPlaying(page, 10_000, 'the low-latency player to play');
    expect(playing.mode).toBe('packets');
    expect(new URL(page.url()).searchParams.get('mode')).toBe('lowlatency');
    station.stop();
    await page.close();
  }, 60_000);
  it('low-latency player without cross-origin isolation (frames and figures through MessagePorts): plays, markers under 150 ms', async () => {
    const plain = new CuttableProxy(new URL(t.httpUrl), { isolation: false });
    await plain.start();
    const station = new MarkerStation(t.wsUrl, 60);
    const { streamId, stationKey } = await station.start();
    await sleep(1500);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${plain.url}/listen/${streamId}?mode=lowlatency`);
      expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(false);
      await waitPlaying(page, 10_000, 'the page to play');
      const w = await watch(page, t, station, stationKey, 10, 'packets');
      const pageLevel = median(w.pageLevels);
      console.log(`not isolated: path ${w.last.playout?.path}; markers ${w.markers.map((m) => m.toFixed(0)).join(', ')} ms; level page ${pageLevel.toFixed(2)} dBFS; buffer ${w.last.playout?.bufferMs.toFixed(0)} ms, concealed ${w.last.playout?.concealedFrames}`);
      expect(w.last.playout?.path).toBe('messages');
      expect(w.markers.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...w.markers)).toBeLessThan(150);
      expect(Math.abs(pageLevel - TONE_RMS_DBFS)).toBeLessThan(2);
    } finally {
      station.stop();
      await page.close();
      await plain.close();
    }
  }, 90_000);

  it('an unknown stream id: the page says there is no such stream and does not retry', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${proxy.url}/listen/AAAAAAAAAAAAAAAAAAAAAA`);
    await page.getByTestId('listen-error').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('listen-error').textContent()).toContain('no such stream');
    await sleep(2000);
    const p = (await probe(page)) as ListenProbe;
    expect(p.status).toBe('error');
    expect(p.reconnects).toBe(0);
    await page.close();
  }, 30_000);
  it('where the browser wants a user gesture before sound, the page waits for "Start audio", then plays', async () => {
    // A browser of its own with Chromium's default autoplay policy (the shared one allows sound without a gesture).
    const strict = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=document-user-activation-required'],
    });
    const station = new MarkerStation(t.wsUrl, 60);
    const { streamId } = await station.start();
    try {
      for (const query of ['', '?mode=lowlatency']) {
        const page = await strict.newPage();
        await page.goto(`${proxy.url}/listen/${streamId}${query}`);
        // Nothing evaluated in the page meanwhile: Playwright's evaluations count as user
        // activation, which would let the player start by itself.
        await sleep(2500);
        const unlock = page.getByTestId('unlock');
        expect(await unlock.count(), 'the "Start audio" button').toBe(1);
        const waiting = (await probe(page)) as ListenProbe;
        expect(waiting.needsGesture).toBe(true);
        expect(waiting.status).toBe('buffering');
        expect(waiting.timeToFirstAudioMs).toBeNull();
        await unlock.click();
        const playing = await waitPlaying(page, 10_000, `playing after the click (${query || 'mse'})`);
        expect(playing.needsGesture).toBe(false);
        await page.close();
      }
    } finally {
      station.stop();
      await strict.close();
    }
  }, 60_000);
});
