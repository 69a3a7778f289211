/**
 * One capture, wired end to end:
 *
 *   getUserMedia -> AudioWorklet (meters, 20 ms of samples into a shared ring)
 *   -> encoder worker (Opus packets) -> this class -> IndexedDB (every packet)
 *                                                  -> the relay's /ws/ingest (when live)
 *
 * Every packet is recorded locally, whatever the link does; the ones that did not go out
 * live are uploaded by the upload manager once the relay is back. Reactive fields (runes)
 * are what the capture page shows.
 *
 * With the WebRTC transport the microphone track itself goes to the relay over WHIP
 * (whip-client.ts), coded by the browser's Opus; the worklet, its meters and the local
 * recording are the same as over WebSocket. While the WebRTC link is up, recorded packets
 * count as delivered live (the relay has that stretch from RTP); while it is down they wait
 * for upload, as over WebSocket.
 *
 * The adaptive bitrate (adaptive-bitrate.ts) looks at the link once a second: the relay's
 * backpressure and the socket's send buffer over WebSocket (changes go to the encoder,
 * which codes both the live and the recorded packets), the relay's loss reports over
 * WebRTC (changes go to the RTP sender's maxBitrate; the recording keeps the chosen rate).
 */
import * as Comlink from 'comlink';
import opusWorkerUrl from 'opus-recorder/dist/encoderWorker.min.js?url';
import processorUrl from '$worklets/processors/capture-processor.ts?worker&url';
import { CAPTURE_PROCESSOR, type CaptureCommand, type CaptureProcessorMessage, type CaptureProcessorOptions } from '$worklets/processors/capture-protocol';
import { METER, METER_VALUES, MeterBlock } from '$worklets/processors/meter-block';
import { SampleRing } from '$worklets/processors/sample-ring';
import type { StartedMessage } from '$protocol/ingest';
import { MeterBallistics } from '$lib/meters/ballistics';
import { loudnessReadout, SILENT_READOUT, type LoudnessReadout } from '$lib/meters/loudness';
import { session as signIn } from '$lib/session.svelte';
import type { EncodedPacket, EncoderApi } from './encoder-api';
import { AdaptiveBitrateController, describeBitrateChange, type BitrateChange, type LinkSample } from './adaptive-bitrate';
import { IngestLink, type LinkState } from './ingest-link';
import { WhipLink } from './whip-client';
import { DELIVERY, type PacketRecord, type RecordingStore, type SessionRecord } from './recording-store';
import { captureLockName, recordingStore } from './recordings';
import { sessionFrame } from './uploader';
import { uploads } from './upload-manager.svelte';

export interface CaptureOptions {
  deviceId: string | null;
  label: string;
  traceId: string | null;
  echoCancellation: boolean;
  noiseSuppression: boolean;
  autoGainControl: boolean;
  /** Opus bitrate, bits/s: the start and, with adaptation, the ceiling. */
  bitrate: number;
  /** How the audio reaches the relay. */
  transport: CaptureTransport;
  /** Lower the bitrate when the link struggles, raise it back when it recovers. */
  adaptiveBitrate: boolean;
}

export type CaptureTransport = 'websocket' | 'webrtc';

/** Bitrate changes kept for the page's log. */
const MAX_BITRATE_LOG = 12;
/** How often the adaptive bitrate looks at the link, ms. */
const ADAPT_INTERVAL_MS = 1000;

const SAMPLE_RATE = 48000;
const FRAME_MS = 20;
/** Packets reach IndexedDB at least this often: a reload or crash loses less than this. */
const FLUSH_MS = 250;
/** Packets sent this recently when a socket drops may not have reached the relay: upload them too. */
const UNCERTAIN_MS = 1000;
/** The ring between worklet and encoder holds 2 s. */
const RING_SECONDS = 2;

export class CaptureSession {
  status = $state<'idle' | 'starting' | 'capturing' | 'stopping' | 'error'>('idle');
  error = $state<string | null>(null);
  link = $state<LinkState>('connecting');
  linkDetail = $state('');
  relayStatus = $state<'ok' | 'backpressure'>('ok');
  relayDroppedFrames = $state(0);
  bytesSent = $state(0);
  packets = $state(0);
  /** Packets recorded but not (yet) delivered to the relay. */
  backlog = $state(0);
  live = $state<StartedMessage | null>(null);
  transport = $state<CaptureTransport>('websocket');
  /** The Opus bitrate in force, bits/s (what the adaptive bitrate last chose). */
  bitrateBps = $state(0);
  /** Bitrate changes, newest last ("21:04:05 Bitrate: 32 → 22.4 kbps (relay backpressure)"). */
  bitrateLog = $state<string[]>([]);
  sessionId = $state<string | null>(null);
  elapsedMs = $state(0);
  isolated = $state(false);
  /** Meter values for display, refreshed every animation frame. */
  meter = $state({ rms: -90, peak: -90, hold: -90, clip: false, clipped: 0 });
  /** EBU R128 figures for display (the worklet's, as they are), refreshed every animation frame. */
  loudness = $state<LoudnessReadout>({ ...SILENT_READOUT });
  readonly ballistics = new MeterBallistics();

  private stream: MediaStream | null = null;
  private ctx: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private worker: Worker | null = null;
  private encoder: Comlink.Remote<EncoderApi> | null = null;
  private ingest: IngestLink | null = null;
  private whip: WhipLink | null = null;
  private adaptive: AdaptiveBitrateController | null = null;
  private adaptTimer: ReturnType<typeof setInterval> | null = null;
  private adapting = false;
  private store: RecordingStore | null = null;
  private record: SessionRecord | null = null;
  private pending: PacketRecord[] = [];
  /** Indices and send times of packets sent live in the last UNCERTAIN_MS. */
  private recent: { index: number; atMs: number }[] = [];
  private flushTimer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private raf = 0;
  private block: MeterBlock | null = null;
  private readonly reading = new Float64Array(METER_VALUES);
  private lastSeq = -1;
  /** Fallback path: a posted reading not shown yet. */
  private postedReading = false;
  private releaseLock: (() => void) | null = null;
  private wasOffline = false;
  private readonly onOnline = (): void => {
    this.ingest?.retryNow();
    this.whip?.retryNow();
  };

  async start(opts: CaptureOptions): Promise<void> {
    if (this.status === 'starting' || this.status === 'capturing') return;
    this.status = 'starting';
    this.error = null;
    this.transport = opts.transport;
    this.bitrateBps = opts.bitrate;
    this.bitrateLog = [];
    this.loudness = { ...SILENT_READOUT };
    try {
      await this.open(opts);
      this.status = 'capturing';
    } catch (err) {
      this.error = describe(err);
      this.status = 'error';
      await this.teardown();
    }
  }

  private async open(opts: CaptureOptions): Promise<void> {
    this.store = await recordingStore();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        deviceId: opts.deviceId ? { exact: opts.deviceId } : undefined,
        channelCount: { ideal: 1 },
        echoCancellation: opts.echoCancellation,
        noiseSuppression: opts.noiseSuppression,
        autoGainControl: opts.autoGainControl,
      },
    });
    const ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
    this.ctx = ctx;
    await ctx.audioWorklet.addModule(processorUrl);

    // A SharedArrayBuffer needs cross-origin isolation (the relay sends COOP/COEP).
    this.isolated = globalThis.crossOriginIsolated === true;
    const ring = this.isolated ? SampleRing.allocate(SAMPLE_RATE * RING_SECONDS) : null;
    const meters = this.isolated ? MeterBlock.allocate() : null;
    this.block = meters ? new MeterBlock(meters) : null;
    const processorOptions: CaptureProcessorOptions = { ring, meters };
    const node = new AudioWorkletNode(ctx, CAPTURE_PROCESSOR, { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit', processorOptions });
    this.node = node;

    this.worker = new Worker(new URL('./encoder.worker.ts', import.meta.url), { type: 'module', name: 'opus-encoder' });
    this.encoder = Comlink.wrap<EncoderApi>(this.worker);
    await this.encoder.start({ sampleRate: ctx.sampleRate, bitrate: opts.bitrate, complexity: 8, ring, opusWorkerUrl }, Comlink.proxy((p: EncodedPacket[], firstSampleWallMs: number) => this.onPackets(p, firstSampleWallMs)));
    if (!this.isolated) {
      node.port.onmessage = (e: MessageEvent<CaptureProcessorMessage>) => {
        if (e.data.type === 'frame') {
          void this.encoder?.push(Comlink.transfer(e.data.samples, [e.data.samples.buffer]));
        } else {
          this.reading.set(e.data.values);
          this.postedReading = true;
        }
      };
    }

    const id = crypto.randomUUID();
    this.record = {
      id,
      label: opts.label,
      joinTraceId: opts.traceId,
      createdAt: Date.now(),
      startedAt: null,
      endedAt: null,
      state: 'recording',
      codec: 'opus',
      sampleRate: SAMPLE_RATE,
      frameMs: FRAME_MS,
      packets: 0,
      lastLiveIndex: -1,
      head: null,
      live: [],
      upload: { traceId: null, stationKey: null, parts: [], error: null },
    };
    await this.store.putSession(this.record);
    this.sessionId = id;
    this.holdLock(id);

    const source = ctx.createMediaStreamSource(this.stream);
    source.connect(node);
    await ctx.resume();

    if (opts.transport === 'webrtc') this.openWhip(opts);
    else this.openIngest(opts);
    if (opts.adaptiveBitrate) this.adaptive = new AdaptiveBitrateController({ maxBps: opts.bitrate });
    this.adaptTimer = setInterval(() => void this.adapt(), ADAPT_INTERVAL_MS);
    window.addEventListener('online', this.onOnline);
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_MS);
    const frame = (): void => {
      this.readMeters();
      this.raf = requestAnimationFrame(frame);
    };
    this.raf = requestAnimationFrame(frame);
  }

  private openIngest(opts: CaptureOptions): void {
    this.ingest = new IngestLink({
      url: ingestUrl(),
      label: opts.label,
      traceId: opts.traceId,
      onState: (state, detail) => this.onLinkState(state, detail),
      onStarted: (started) => this.onStarted(started),
      onStatus: (s) => {
        this.relayStatus = s.state;
        this.relayDroppedFrames = s.dropped_frames;
      },
      onRefused: (message) => {
        this.error = `the relay refused this capture: ${message}; it goes on recording locally`;
      },
    });
    this.ingest.connect();
  }

  private openWhip(opts: CaptureOptions): void {
    const track = this.stream?.getAudioTracks()[0];
    if (track === undefined) throw new Error('the microphone gave no audio track');
    this.whip = new WhipLink({
      endpoint: new URL('/whip', window.location.href).href,
      token: signIn.token,
      label: opts.label,
      traceId: opts.traceId,
      track,
      maxBitrateBps: opts.bitrate,
      onState: (state, detail) => this.onLinkState(state, detail),
      onStarted: (started) => this.onStarted(started),
      onRefused: (message, retrying) => {
        // A refusal that may pass (503, unreachable) shows in the link's state while it retries.
        if (!retrying) this.error = `the relay refused this capture: ${message}; it goes on recording locally`;
      },
    });
    this.whip.connect();
  }

  /** One look at the link for the adaptive bitrate (and, over WebRTC, the bytes sent). */
  private async adapt(): Promise<void> {
    if (this.adapting) return;
    this.adapting = true;
    try {
      const atMs = performance.now();
      let sample: LinkSample | null = null;
      if (this.ingest !== null) {
        if (this.ingest.isLive) sample = { atMs, relayBackpressure: this.relayStatus === 'backpressure', bufferedBytes: this.ingest.bufferedBytes };
      } else if (this.whip !== null) {
        const s = await this.whip.sample();
        if (s !== null) {
          this.bytesSent = s.bytesSent;
          sample = { atMs, lossFraction: s.lossFraction };
        }
      }
      const change = sample !== null && this.adaptive !== null ? this.adaptive.update(sample) : null;
      if (change !== null) await this.applyBitrate(change);
    } catch (err) {
      // The worker or the connection went away under us: the next look will tell.
      console.warn('adaptive bitrate:', err);
    } finally {
      this.adapting = false;
    }
  }

  private async applyBitrate(change: BitrateChange): Promise<void> {
    if (this.whip !== null) await this.whip.setMaxBitrate(change.toBps);
    else await this.encoder?.setBitrate(change.toBps);
    this.bitrateBps = change.toBps;
    const line = describeBitrateChange(change);
    const at = new Date().toLocaleTimeString([], { hour12: false });
    this.bitrateLog = [...this.bitrateLog.slice(-(MAX_BITRATE_LOG - 1)), `${at} ${line}`];
    console.info(line);
  }

  async stop(): Promise<void> {
    if (this.status !== 'capturing') return;
    this.status = 'stopping';
    // Stop the source first, then let the encoder deliver its last packets.
    this.stream?.getTracks().forEach((t) => t.stop());
    await this.ctx?.suspend();
    try {
      await this.encoder?.stop();
      const head = await this.encoder?.opusHead();
      if (head && this.record) this.record.head = head;
    } catch {
      // The worker died: what it delivered is recorded.
    }
    await this.ingest?.close();
    await this.whip?.close();
    await this.flush();
    if (this.record && this.store) {
      const rec = this.record;
      await this.store.updateSession(rec.id, (s) => {
        s.state = 'ended';
        s.endedAt = Date.now();
        s.head = rec.head;
      });
    }
    await this.teardown();
    this.status = 'idle';
    void uploads.kick();
  }

  private onPackets(packets: EncodedPacket[], firstSampleWallMs: number): void {
    const rec = this.record;
    const link = this.ingest;
    if (rec === null) return;
    const now = performance.now();
    rec.startedAt ??= Math.round(firstSampleWallMs);
    for (const p of packets) {
      // Over WebRTC the audio went as RTP: a packet is live when the connection is up.
      const live = link !== null ? link.send(sessionFrame(p.index, FRAME_MS, p.data)) : this.whip?.isLive === true;
      if (live) {
        rec.lastLiveIndex = p.index;
        this.recent.push({ index: p.index, atMs: now });
      }
      this.pending.push({ session: rec.id, index: p.index, data: p.data, delivery: live ? DELIVERY.live : DELIVERY.pending });
    }
    while (this.recent.length > 0 && now - this.recent[0].atMs > UNCERTAIN_MS) this.recent.shift();
    this.packets = packets[packets.length - 1].index + 1;
    this.elapsedMs = this.packets * FRAME_MS;
    if (link) this.bytesSent = link.bytesSent;
  }

  /** Writes the packets captured since the last flush, in one transaction. */
  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const rec = this.record;
      const store = this.store;
      if (rec === null || store === null || this.pending.length === 0) return;
      const batch = this.pending;
      this.pending = [];
      const last = batch[batch.length - 1].index;
      await store.appendPackets(rec.id, batch, (s) => {
        s.packets = last + 1;
        s.startedAt = rec.startedAt;
        s.lastLiveIndex = Math.max(s.lastLiveIndex, rec.lastLiveIndex);
        s.live = rec.live;
      });
      this.backlog = await store.pendingCount(rec.id);
    });
    return this.flushing;
  }

  private onStarted(started: StartedMessage): void {
    this.live = started;
    const rec = this.record;
    if (rec !== null) rec.live = [...rec.live, { traceId: started.trace_id, stationKey: started.station_key, streamId: started.stream_id }];
    // Back from offline: what the relay missed can go up now (once this stretch is recorded).
    if (this.wasOffline) {
      this.wasOffline = false;
      setTimeout(() => void this.flush().then(() => uploads.kick()), FLUSH_MS);
    }
  }

  private onLinkState(state: LinkState, detail: string): void {
    const before = this.link;
    this.link = state;
    this.linkDetail = detail;
    if (state === 'offline' || state === 'connecting') {
      this.wasOffline = true;
      if (before === 'live') this.markUncertain();
    }
  }

  /** The socket dropped: packets sent in its last second may be lost; record them for upload. */
  private markUncertain(): void {
    const rec = this.record;
    if (rec === null || this.recent.length === 0) return;
    const first = this.recent[0].index;
    const end = this.recent[this.recent.length - 1].index + 1;
    this.recent = [];
    for (const p of this.pending) if (p.index >= first && p.delivery === DELIVERY.live) p.delivery = DELIVERY.pending;
    // Those already written are re-marked after the flush in progress.
    this.flushing = this.flushing.then(async () => {
      await this.store?.markDelivery(rec.id, first, end, DELIVERY.pending, DELIVERY.live);
    });
  }

  private readMeters(): void {
    const r = this.reading;
    if (this.block !== null) {
      const seq = this.block.read(r);
      if (seq < 0 || seq === this.lastSeq) return;
      this.lastSeq = seq;
    } else {
      if (!this.postedReading) return;
      this.postedReading = false;
    }
    const b = this.ballistics;
    b.update({ rmsDbfs: r[METER.rmsDbfs], peakDbfs: r[METER.peakDbfs], clippedSamples: r[METER.clippedSamples], momentaryLufs: r[METER.momentaryLufs] }, performance.now());
    this.meter = { rms: b.rmsDbfs, peak: b.peakDbfs, hold: b.peakHoldDbfs, clip: b.clipLatched, clipped: b.clippedSamples };
    this.loudness = loudnessReadout(r, this.ctx?.sampleRate ?? SAMPLE_RATE);
  }

  /** Starts a new integrated loudness, loudness range and maxima (the worklet applies it between render quanta). */
  resetLoudness(): void {
    const cmd: CaptureCommand = { type: 'reset-loudness' };
    this.node?.port.postMessage(cmd);
  }

  resetClip(): void {
    this.ballistics.resetClip();
    this.meter = { ...this.meter, clip: false, clipped: 0 };
  }

  private holdLock(id: string): void {
    if (!('locks' in navigator)) return;
    const released = new Promise<void>((resolve) => (this.releaseLock = resolve));
    void navigator.locks.request(captureLockName(id), () => released);
  }

  private async teardown(): Promise<void> {
    cancelAnimationFrame(this.raf);
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (this.adaptTimer !== null) clearInterval(this.adaptTimer);
    this.adaptTimer = null;
    void this.whip?.close();
    window.removeEventListener('online', this.onOnline);
    this.stream?.getTracks().forEach((t) => t.stop());
    this.node?.disconnect();
    await this.ctx?.close().catch(() => undefined);
    this.worker?.terminate();
    this.releaseLock?.();
    this.stream = null;
    this.ctx = null;
    this.node = null;
    this.worker = null;
    this.encoder = null;
    this.ingest = null;
    this.whip = null;
    this.adaptive = null;
    this.record = null;
    this.releaseLock = null;
  }
}

function ingestUrl(): string {
  const url = new URL('/ws/ingest', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (signIn.token) url.searchParams.set('token', signIn.token);
  return url.href;
}

function describe(err: unknown): string {
  if (err instanceof DOMException) {
    if (err.name === 'NotAllowedError') return 'microphone access was refused; allow it in the browser and try again';
    if (err.name === 'NotFoundError' || err.name === 'OverconstrainedError') return 'that microphone is not available; choose another';
    return `${err.name}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The app's capture: one at a time, kept across page changes inside the app. */
export const capture = new CaptureSession();
