/**
 * The export panel of /monitor/<trace_id> in real Chromium against a real relay: a simulated
 * station streams a steady 1 kHz tone; once two of its buckets are complete after the first,
 * the operator exports their 10 s of POST audio as Opus in WebM through the panel, and the
 * sidecar beside it. The downloads (the Blob fallback: headless Chromium cannot answer a
 * save-file picker) are read by ffprobe and decoded by ffmpeg: the file lasts exactly the
 * range and carries the tone at the level sent. Then the whole trace as WAV, streamed into
 * a file the save-file picker hands over (the picker's dialog replaced by a file of the
 * origin's private file system, the same FileSystemFileHandle and writable stream), and a
 * 2 h export cancelled as soon as it starts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRmsDbfs, measureToneDbfs } from '../relay/src/audio/signals.ts';
import { readWav } from '../relay/src/audio/wav.ts';
import { BUILD_DIR, ensureAppBuilt } from '../relay/src/app-build.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { signIn } from './support/app.ts';
import { RATE, steadySine } from './support/audio.ts';
import { CHROMIUM_PATH, hasChromium, launchChromium, type Browser } from './support/chromium.ts';
import { RelayApi } from './support/relay-api.ts';

const BUCKET_MS = 5000;
const TONE_PEAK_DBFS = -20;
const FFMPEG = '/usr/bin/ffmpeg';
const FFPROBE = '/usr/bin/ffprobe';
const tools = hasChromium && existsSync(FFMPEG) && existsSync(FFPROBE);

describe.skipIf(skipWithout(`Chromium (${CHROMIUM_PATH}), ffmpeg and ffprobe`, tools))('monitor export panel (Chromium, simulated station)', () => {
  let t: TestRelay;
  let browser: Browser;
  let api: RelayApi;
  let station: SimulatedStation;
  let streaming: Promise<void> = Promise.resolve();
  let traceId = '';
  let fromMs = 0;
  let toMs = 0;
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-export-e2e-'));

  beforeAll(async () => {
    ensureAppBuilt();
    t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
    api = new RelayApi(t.httpUrl, t.relay.adminToken as string);
    browser = await launchChromium();
    // No save-file picker in headless Chromium: the panel takes its Blob fallback.
    await browser.context.addInitScript({ content: 'delete globalThis.showSaveFilePicker;' });
  }, 180_000);

  afterAll(async () => {
    station?.stop();
    await browser?.close();
    await streaming;
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads 10 s of POST as Opus in WebM that decodes to exactly 10 s of the tone, and its sidecar', async () => {
    station = new SimulatedStation({
      url: t.wsUrl,
      audio: encodeAudio(steadySine(1000, TONE_PEAK_DBFS, 1), RATE, 'pcm16'),
      label: 'e2e-export',
      durationS: 30,
      headers: { authorization: `Bearer ${t.relay.adminToken}` },
    });
    await station.connect();
    streaming = runStations([station]);
    traceId = station.started?.trace_id as string;

    // The first bucket may hold the station's start; the two after it are whole.
    const buckets = await waitFor(async () => {
      const b = await api.buckets(traceId);
      return b.length >= 3 ? b : undefined;
    }, 30_000, 'three complete buckets');
    fromMs = Date.parse(buckets[1].bucket_ts);
    toMs = fromMs + 2 * BUCKET_MS;

    const { page } = browser;
    await signIn(page, t.httpUrl, t.relay.adminToken as string);
    await page.goto(`${t.httpUrl}/monitor/${traceId}`);
    const panel = page.getByTestId('export-panel');
    // Prefilled with the trace's stored range once its details arrive.
    await expect.poll(() => panel.getByTestId('export-from').inputValue(), { timeout: 15_000 }).not.toBe('');

    const local = (ms: number) => page.evaluate((m) => {
      const d = new Date(m);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, ms);
    // A reversed range is refused before any request.
    await panel.getByTestId('export-from').fill(await local(toMs));
    await panel.getByTestId('export-to').fill(await local(fromMs));
    expect(await panel.getByTestId('export-problem').textContent()).toContain('before the end');
    expect(await panel.getByTestId('export-download').isDisabled()).toBe(true);

    await panel.getByTestId('export-from').fill(await local(fromMs));
    await panel.getByTestId('export-to').fill(await local(toMs));
    await panel.getByTestId('export-station').selectOption(station.started?.station_key as string);
    await panel.getByTestId('export-tap-post').check();
    await panel.getByTestId('export-format').selectOption('webm');
    await panel.getByTestId('export-bitrate').fill('64');
    expect(await panel.getByTestId('export-size').textContent()).toContain('about 80.8 kB');

    const [audio] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), panel.getByTestId('export-download').click()]);
    const file = join(dir, audio.suggestedFilename());
    await audio.saveAs(file);
    expect(audio.suggestedFilename()).toBe(`${traceId}_${station.started?.station_key}_POST_${new Date(fromMs).toISOString().replace(/:/g, '-')}.webm`);
    await expect.poll(() => panel.getByTestId('export-message').textContent(), { timeout: 5000 }).toMatch(/^saved .*\.webm \(\d+\.\d kB\)$/);

    const probe = spawnSync(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate:format=duration,format_name', '-of', 'json', file], { encoding: 'utf8' });
    expect(probe.status, probe.stderr).toBe(0);
    const info = JSON.parse(probe.stdout);
    expect(info.format.format_name).toContain('webm');
    expect(info.streams[0].codec_name).toBe('opus');
    expect(Number(info.format.duration)).toBeCloseTo(10, 3);
    const raw = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], { maxBuffer: 16 << 20 });
    expect(raw.status, raw.stderr.toString('utf8')).toBe(0);
    expect(raw.stderr.toString('utf8')).toBe('');
    const pcm = raw.stdout as Buffer;
    const x = Float32Array.from(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2), (s) => s / 32768);
    const rms = measureRmsDbfs(x.subarray(48000, 9 * 48000));
    const tone = measureToneDbfs(x, 1000, 48000, 48000, 9 * 48000);
    console.log(`monitor export: ${readFileSync(file).length} bytes, ffprobe ${info.format.duration} s, decoded ${x.length} samples, RMS ${rms.toFixed(2)} dBFS, 1 kHz ${tone.toFixed(2)} dBFS`);
    expect(x.length).toBe(10 * 48000);
    // POST with the default knobs (unity gain, the limiter above the tone): the tone as sent.
    expect(Math.abs(tone - TONE_PEAK_DBFS)).toBeLessThan(1);
    expect(Math.abs(rms - (TONE_PEAK_DBFS - 3.01))).toBeLessThan(1);

    // Chromium reads it too: <audio> takes the Duration from Info; its decoder trims to
    // within a few samples (24 short here, as for a WebM Opus file ffmpeg writes).
    const played = await page.evaluate(async (b64) => {
      const u = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const decoded = (await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(u.slice().buffer)).length;
      const a = document.createElement('audio');
      a.src = URL.createObjectURL(new Blob([u], { type: 'audio/webm' }));
      const duration = await new Promise<number>((resolve, reject) => {
        a.onloadedmetadata = () => resolve(a.duration);
        a.onerror = () => reject(new Error(`audio element: ${a.error?.code} ${a.error?.message}`));
      });
      URL.revokeObjectURL(a.src);
      return { decoded, duration };
    }, readFileSync(file).toString('base64'));
    console.log(`monitor export: Chromium <audio> duration ${played.duration} s, decodeAudioData ${played.decoded} samples`);
    expect(played.duration).toBeCloseTo(10, 3);
    expect(Math.abs(played.decoded - 10 * 48000)).toBeLessThan(960);

    const [sidecar] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), panel.getByTestId('export-sidecar').click()]);
    const json = join(dir, sidecar.suggestedFilename());
    await sidecar.saveAs(json);
    expect(sidecar.suggestedFilename()).toMatch(/_POST_.*\.json$/);
    const body = JSON.parse(readFileSync(json, 'utf8'));
    expect(body.buckets.map((b: { bucket_ts: string }) => b.bucket_ts)).toEqual([buckets[1].bucket_ts, buckets[2].bucket_ts]);
  }, 90_000);

  it('streams the whole trace as WAV into the file the picker gives, with its exact size', async () => {
    const { page } = browser;
    const panel = page.getByTestId('export-panel');
    await page.evaluate(() => {
      (globalThis as unknown as { showSaveFilePicker: unknown }).showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) =>
        (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
    });
    await panel.getByTestId('export-station').selectOption('');
    await panel.getByTestId('export-format').selectOption('wav');
    const bytes = 44 + 2 * 10 * 48000;
    expect(await panel.getByTestId('export-size').textContent()).toContain('960.0 kB');
    await panel.getByTestId('export-download').click();
    const name = `${traceId}_mix_POST_${new Date(fromMs).toISOString().replace(/:/g, '-')}.wav`;
    await expect.poll(() => panel.getByTestId('export-message').textContent(), { timeout: 15_000 }).toBe(`saved ${name} (960.0 kB)`);
    const saved = await page.evaluate(async (n) => {
      const f = await (await (await navigator.storage.getDirectory()).getFileHandle(n)).getFile();
      const b = new Uint8Array(await f.arrayBuffer());
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      return btoa(s);
    }, name);
    const wav = readWav(Buffer.from(saved, 'base64'));
    expect(wav.sampleRate).toBe(48000);
    expect(wav.samples.length).toBe((bytes - 44) / 2);
    const tone = measureToneDbfs(wav.samples, 1000, 48000, 48000, 9 * 48000);
    console.log(`monitor export: whole trace WAV streamed to a picked file, ${wav.samples.length} samples, 1 kHz ${tone.toFixed(2)} dBFS`);
    expect(Math.abs(tone - TONE_PEAK_DBFS)).toBeLessThan(0.5);
  }, 30_000);

  it('cancels a long export midway: the picked file keeps nothing', async () => {
    const { page } = browser;
    const panel = page.getByTestId('export-panel');
    // 2 h of the whole trace as Opus: the relay encodes it for a minute or more, far longer
    // than the cancel takes. (A 691 MB WAV comes over loopback so fast that the page's input
    // lags behind the stream on a loaded machine.)
    const local = await page.evaluate((m) => {
      const d = new Date(m);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, fromMs + 2 * 3600_000);
    await panel.getByTestId('export-to').fill(local);
    await panel.getByTestId('export-format').selectOption('webm');
    await panel.getByTestId('export-download').click();
    const progress = panel.getByTestId('export-progress');
    await expect.poll(async () => Number.parseFloat((await progress.textContent()) ?? ''), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await progress.textContent()).toMatch(/ of ≈ 58\.2 MB$/);
    await panel.getByTestId('export-cancel').click({ timeout: 5000 });
    await expect.poll(() => panel.getByTestId('export-message').textContent(), { timeout: 10_000 }).toBe('cancelled');
    expect(await panel.getByTestId('export-download').isEnabled()).toBe(true);
    const name = `${traceId}_mix_POST_${new Date(fromMs).toISOString().replace(/:/g, '-')}.webm`;
    // The writable was aborted: what had arrived never reached the file.
    const size = await page.evaluate(async (n) => (await (await (await navigator.storage.getDirectory()).getFileHandle(n)).getFile()).size, name);
    expect(size).toBe(0);
  }, 30_000);
});
