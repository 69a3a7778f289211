/**
 * WebRTC through the relay in real Chromium: a page captures the fake microphone, publishes
 * it over WHIP (`POST /whip`) and plays the station back over WHEP (`POST /whep/<stream_id>`),
 * both peer connections in the same page, the relay between them.
 *
 * The microphone plays a marker signal: 100 ms bursts of 1 kHz at -12 dBFS peak, one a
 * second, with digital silence between. One AudioContext takes both the captured track and
 * the received one into an AudioWorklet that notes the frame at which each burst begins on
 * each input (the first sample over -26 dBFS after 200 ms under it). Both onsets are read on
 * the same clock, so their difference is the path's latency from capture to playback:
 * Chromium's Opus encoder and packetizer, werift, the station's pipeline on the relay, the
 * POST tap's egress encoder, werift again, and Chromium's jitter buffer and decoder. The
 * same microphone over a peer connection inside the page is measured alongside, as the
 * baseline of what WebRTC costs without the relay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../relay/src/testing/harness.ts';
import { RATE, writeWav } from './support/audio.ts';
import { hasChromium, launchChromium, WEBRTC_LOOPBACK_FLAGS, type Browser } from './support/chromium.ts';

const BURST_S = 0.1;
const PERIOD_S = 1;
/**
 * Capture to playback through the relay must stay under this, burst by burst (the median).
 * Measured with this file running alone, as the browser tests' configuration runs it: medians
 * of 76, 91 and 102 ms (a direct Chromium-to-Chromium connection in the same page: 46-49 ms).
 * On a loaded machine the relay's thread is sometimes held up for 50-150 ms, Chromium's jitter
 * buffer grows to cover it and shrinks back only over seconds, and medians of 140-330 ms
 * were seen: that is why this file runs alone (vitest.e2e.config.ts).
 */
const MAX_LATENCY_MS = 150;
/** Chromium sends an RTCP receiver report about every 5 s; the WHEP session must outlive several such gaps. */
const IDLE_TIMEOUT_MS = 8000;

/** 10 s of the marker: a burst at the start of each second (a whole number of periods: the fake microphone loops it seamlessly). */
function markerSignal(): Float32Array {
  const x = new Float32Array(10 * PERIOD_S * RATE);
  const a = 10 ** (-12 / 20);
  for (let p = 0; p < 10; p++) {
    const start = p * PERIOD_S * RATE;
    for (let i = 0; i < BURST_S * RATE; i++) x[start + i] = a * Math.sin((2 * Math.PI * 1000 * i) / RATE);
  }
  return x;
}

/**
 * The onset detector, one input per track (0: the microphone, 1: back through the relay,
 * 2: back through a direct Chromium-to-Chromium connection, the baseline that shows what
 * WebRTC itself costs); posts `{ input, frame }` per burst onset.
 */
const ONSET_WORKLET = `
const THRESHOLD = 0.05;       // -26 dBFS: well under the burst, well over decoded silence
const QUIET_FRAMES = 9600;    // 200 ms under it before an onset counts
class Onsets extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = [0, 0, 0]; }
  process(inputs) {
    for (let k = 0; k < 3; k++) {
      const ch = inputs[k] && inputs[k][0];
      if (!ch) continue;
      for (let i = 0; i < ch.length; i++) {
        if (Math.abs(ch[i]) > THRESHOLD) {
          if (this.quiet[k] >= QUIET_FRAMES) this.port.postMessage({ input: k, frame: currentFrame + i });
          this.quiet[k] = 0;
        } else {
          this.quiet[k]++;
        }
      }
    }
    return true;
  }
}
registerProcessor('onsets', Onsets);
`;

let relay: TestRelay;
let browser: Browser | undefined;
let dir = '';

beforeAll(async () => {
  if (!hasChromium) return;
  dir = mkdtempSync(join(tmpdir(), 'tapwire-webrtc-'));
  const wav = writeWav(join(dir, 'marker.wav'), markerSignal());
  // A short idle timeout (8 s; the relay's default is 30): Chromium's receiver reports must
  // keep the WHEP session open past it (and its audio the WHIP one).
  relay = await startTestRelay({ stationIdleTimeoutMs: IDLE_TIMEOUT_MS });
  browser = await launchChromium({ micWav: wav, extraArgs: WEBRTC_LOOPBACK_FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Each received onset against the latest captured one before it (bursts are 1 s apart), ms. */
function latenciesMs(captured: readonly number[], received: readonly number[]): number[] {
  const out: number[] = [];
  for (const r of received) {
    const l = captured.filter((f) => f < r).pop();
    if (l !== undefined && r - l < PERIOD_S * RATE) out.push(((r - l) / RATE) * 1000);
  }
  return out;
}

const medianOf = (x: readonly number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)] ?? NaN;

interface PageResult {
  streamId: string;
  whipLocation: string;
  whepLocation: string;
  error?: string;
}

describe.skipIf(!hasChromium)('WebRTC in Chromium through the relay', () => {
  it(`publishes the microphone over WHIP, plays it back over WHEP, capture to playback under ${MAX_LATENCY_MS} ms`, async () => {
    const b = browser as Browser;
    const page = b.page;
    // Any page of the relay's origin will do: the page's fetches are then same-origin.
    await page.goto(`${relay.httpUrl}/healthz`);
    const helpers = `
      window.gathered = (pc) => new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      window.exchange = async (pc, url) => {
        await pc.setLocalDescription(await pc.createOffer());
        await window.gathered(pc);
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
        if (res.status !== 201) throw new Error(url + ': ' + res.status + ' ' + (await res.text()));
        await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
        return res;
      };`;
    await page.addScriptTag({ content: helpers });
    type Exchange = (pc: RTCPeerConnection, url: string) => Promise<Response>;

    // The microphone goes out over WHIP.
    const published = await page.evaluate(async (): Promise<{ streamId: string; location: string } | string> => {
      const w = window as unknown as { exchange: Exchange; mic: MediaStream; publisher: RTCPeerConnection };
      try {
        w.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
        w.publisher = new RTCPeerConnection();
        w.publisher.addTransceiver(w.mic.getAudioTracks()[0], { direction: 'sendonly' });
        const res = await w.exchange(w.publisher, '/whip?station_key=chromium-mic&label=Chromium%20microphone');
        return { streamId: res.headers.get('x-tapwire-stream-id')!, location: res.headers.get('location')! };
      } catch (err) {
        return String(err);
      }
    });
    if (typeof published === 'string') throw new Error(`${published}\n${b.console.join('\n')}`);
    expect(published.location).toMatch(/^\/whip\//);

    // The station streams, as WebRTC. A listener joins a station that has been on a moment, as they do.
    const station = await waitFor(() => relay.relay.stats().stations.find((s) => s.station_key === 'chromium-mic'), 10_000, 'the WHIP station');
    expect(station.transport).toBe('webrtc');
    await sleep(1500);

    // The station comes back over WHEP; both tracks go into one AudioContext and its onset detector.
    const started = await page.evaluate(async ({ workletSource, streamId }: { workletSource: string; streamId: string }): Promise<PageResult> => {
      const w = window as unknown as { exchange: Exchange; mic: MediaStream; onsets: { input: number; frame: number }[] };
      try {
        const player = new RTCPeerConnection();
        player.addTransceiver('audio', { direction: 'recvonly' });
        const remote = new Promise<MediaStreamTrack>((resolve) => player.addEventListener('track', (e) => resolve(e.track)));
        const whep = await w.exchange(player, `/whep/${streamId}`);
        const received = new MediaStream([await remote]);
        // Chromium sends a remote WebRTC track into Web Audio only while a media element plays it.
        const sink = new Audio();
        sink.srcObject = received;
        sink.muted = true;
        await sink.play();

        const ctx = new AudioContext({ sampleRate: 48000 });
        await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([workletSource], { type: 'text/javascript' })));
        const node = new AudioWorkletNode(ctx, 'onsets', { numberOfInputs: 3, numberOfOutputs: 1 });
        ctx.createMediaStreamSource(w.mic).connect(node, 0, 0);
        ctx.createMediaStreamSource(received).connect(node, 0, 1);
        // The baseline: the same microphone over a peer connection within the page, no relay.
        const a = new RTCPeerConnection();
        const z = new RTCPeerConnection();
        a.addEventListener('icecandidate', (e) => e.candidate && z.addIceCandidate(e.candidate));
        z.addEventListener('icecandidate', (e) => e.candidate && a.addIceCandidate(e.candidate));
        a.addTransceiver(w.mic.getAudioTracks()[0], { direction: 'sendonly' });
        const direct = new Promise<MediaStreamTrack>((resolve) => z.addEventListener('track', (e) => resolve(e.track)));
        await a.setLocalDescription(await a.createOffer());
        await z.setRemoteDescription(a.localDescription!);
        await z.setLocalDescription(await z.createAnswer());
        await a.setRemoteDescription(z.localDescription!);
        const directStream = new MediaStream([await direct]);
        const directSink = new Audio();
        directSink.srcObject = directStream;
        directSink.muted = true;
        await directSink.play();
        ctx.createMediaStreamSource(directStream).connect(node, 0, 2);
        node.connect(ctx.destination);
        w.onsets = [];
        node.port.onmessage = (e) => w.onsets.push(e.data as { input: number; frame: number });
        await ctx.resume();
        return { streamId, whipLocation: '', whepLocation: whep.headers.get('location')! };
      } catch (err) {
        return { streamId: '', whipLocation: '', whepLocation: '', error: String(err) };
      }
    }, { workletSource: ONSET_WORKLET, streamId: published.streamId });
    started.whipLocation = published.location;
    expect(started.error, b.console.join('\n')).toBeUndefined();
    expect(started.whepLocation).toMatch(new RegExp(`^/whep/${started.streamId}/`));

    // Fourteen bursts' worth of onsets (14 s, past the idle timeout) on both inputs.
    const onsets = await waitFor(async () => {
      const o = await page.evaluate(() => (window as unknown as { onsets: { input: number; frame: number }[] }).onsets);
      return o.filter((x) => x.input === 1).length >= 14 ? o : undefined;
    }, 25_000, '14 onsets received over WHEP');
    const local = onsets.filter((o) => o.input === 0).map((o) => o.frame);
    const remote = onsets.filter((o) => o.input === 1).map((o) => o.frame);
    const latencies = latenciesMs(local, remote);
    const baseline = latenciesMs(local, onsets.filter((o) => o.input === 2).map((o) => o.frame));
    const median = medianOf(latencies);
    console.log(
      `WebRTC capture to playback through the relay (WHIP -> station -> POST tap -> WHEP), ${latencies.length} bursts: ` +
        `median ${median.toFixed(1)} ms, min ${Math.min(...latencies).toFixed(1)}, max ${Math.max(...latencies).toFixed(1)} ms (${latencies.map((x) => x.toFixed(0)).join(', ')}); ` +
        `Chromium to Chromium directly: median ${medianOf(baseline).toFixed(1)} ms (${baseline.map((x) => x.toFixed(0)).join(', ')})`,
    );
    // Every burst came back once: each received onset has its captured one, none doubled.
    expect(latencies.length).toBe(remote.length);
    for (let i = 1; i < remote.length; i++) expect((remote[i] - remote[i - 1]) / RATE).toBeGreaterThan(PERIOD_S / 2);
    // Capture to playback, the typical burst (and so at least half of them), under the bound.
    expect(median).toBeLessThan(MAX_LATENCY_MS);

    // Both sessions lived on past the idle timeout: audio kept the WHIP one, the player's RTCP the WHEP one.
    expect([relay.relay.webrtc.whipSessionCount, relay.relay.webrtc.whepSessionCount]).toEqual([1, 1]);

    // DELETE ends both sessions, and the station.
    await page.evaluate(async (urls: string[]) => {
      for (const u of urls) await fetch(u, { method: 'DELETE' });
    }, [started.whepLocation, started.whipLocation]);
    await waitFor(() => (relay.relay.webrtc.whipSessionCount + relay.relay.webrtc.whepSessionCount === 0 ? true : undefined), 5000, 'the sessions to end');
    await waitFor(() => (relay.relay.stats().stations.some((s) => s.station_key === 'chromium-mic') ? undefined : true), 5000, 'the station to end');
  });
});
