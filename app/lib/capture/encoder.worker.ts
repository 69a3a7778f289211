/**
 * The encoder worker (driven by the page through comlink): reads 20 ms frames from the
 * capture worklet's ring, has opus-recorder's libopus worker encode them (48 kHz mono,
 * 20 ms, one frame per Ogg page) and hands the raw Opus packets, out of their pages, back
 * to the page in order.
 *
 * opus-recorder ships its encoder as a complete worker script (emscripten + a message
 * protocol), so it runs as a worker nested in this one; this worker owns the ring, the frame
 * timing and the Ogg unwrapping.
 *
 * opus-recorder sets the bitrate once, at `init`. The adaptive bitrate needs to change it
 * while encoding, so the nested worker is a small classic script that loads opus-recorder's
 * and adds one command, `setBitrate`, calling libopus's OPUS_SET_BITRATE on the live encoder
 * (through the encoder's own `setOpusControl`): the next frame is coded at the new rate,
 * with no restart, no gap and no new stream.
 */
import * as Comlink from 'comlink';
import { SampleRing } from '$worklets/processors/sample-ring';
import { isOpusHeader, readOggPage } from '$protocol/ogg-opus';
import type { EncodedPacket, EncoderApi, EncoderOptions, EncoderStats } from './encoder-api';

const FRAME_MS = 20;
/** How often the ring is drained. Frames queue in the ring meanwhile (it holds 2 s). */
const POLL_MS = 10;

type OpusWorkerMessage = { message: 'ready' } | { message: 'page'; page: Uint8Array } | { message: 'done' } | { message: 'flushed' } | { message: 'bitrate'; bitrate: number | null };

/** libopus's encoder_ctl requests (opus_defines.h). */
const OPUS_SET_BITRATE_REQUEST = 4002;
const OPUS_GET_BITRATE_REQUEST = 4003;
/** Opus's range of bitrates, bits/s (RFC 6716 §2.1.1: 6 to 510 kbps). */
const MIN_OPUS_BPS = 6000;
const MAX_OPUS_BPS = 510_000;

/**
 * The nested worker: opus-recorder's script plus `setBitrate`. opus-recorder keeps its
 * encoder in the worker-global `encoder` (null before `init` and after `done`) and ignores
 * commands it does not know, so this listener sits beside its own. Messages are handled in
 * order, so a change lands between two `encode` commands.
 */
function opusWorkerSource(scriptUrl: string): string {
  return `importScripts(${JSON.stringify(scriptUrl)});
self.addEventListener('message', function (e) {
  var d = e.data;
  if (!d || d.command !== 'setBitrate') return;
  var enc = self.encoder;
  if (!enc) { postMessage({ message: 'bitrate', bitrate: null }); return; }
  enc.setOpusControl(${OPUS_SET_BITRATE_REQUEST}, d.bitrate);
  var at = enc._malloc(4);
  enc._opus_encoder_ctl(enc.encoder, ${OPUS_GET_BITRATE_REQUEST}, at);
  var bps = enc.HEAP32[at >> 2];
  enc._free(at);
  postMessage({ message: 'bitrate', bitrate: bps });
});
`;
}

class Encoder implements EncoderApi {
  private opus: Worker | null = null;
  private ring: SampleRing | null = null;
  private frameSamples = 960;
  private sampleRate = 48000;
  private timer: ReturnType<typeof setInterval> | null = null;
  private sink: ((packets: EncodedPacket[], firstSampleWallMs: number) => void) | null = null;
  private head: Uint8Array | null = null;
  private nextIndex = 0;
  private counters: EncoderStats = { framesIn: 0, packetsOut: 0, ringOverruns: 0, firstSampleWallMs: null, bytesOut: 0, bitrateBps: 0 };
  private onDone: (() => void) | null = null;
  private opusUrl: string | null = null;
  /** setBitrate calls waiting for the nested worker's answer, in order. */
  private bitrateWaiters: { resolve: (bps: number) => void; reject: (err: Error) => void }[] = [];

  start(opts: EncoderOptions, onPackets: (packets: EncodedPacket[], firstSampleWallMs: number) => void): Promise<void> {
    if (this.opus !== null) return Promise.reject(new Error('the encoder is already running'));
    this.sink = onPackets;
    this.sampleRate = opts.sampleRate;
    this.frameSamples = Math.round((opts.sampleRate * FRAME_MS) / 1000);
    this.ring = opts.ring ? new SampleRing(opts.ring) : null;
    // A blob script resolves nothing relative to itself: give it opus-recorder's absolute URL.
    const scriptUrl = new URL(opts.opusWorkerUrl, self.location.href).href;
    this.opusUrl = URL.createObjectURL(new Blob([opusWorkerSource(scriptUrl)], { type: 'text/javascript' }));
    const opus = new Worker(this.opusUrl);
    this.opus = opus;
    this.counters.bitrateBps = opts.bitrate;
    return new Promise<void>((resolve, reject) => {
      opus.onerror = (e) => reject(new Error(`the Opus encoder failed to load: ${e.message}`));
      opus.onmessage = (e: MessageEvent<OpusWorkerMessage>) => {
        const msg = e.data;
        if (msg.message === 'ready') {
          if (this.ring !== null) this.timer = setInterval(() => this.drain(), POLL_MS);
          resolve();
        } else if (msg.message === 'page') {
          this.onPage(msg.page);
        } else if (msg.message === 'done') {
          this.onDone?.();
        } else if (msg.message === 'bitrate') {
          const waiter = this.bitrateWaiters.shift();
          if (msg.bitrate === null) {
            waiter?.reject(new Error('the Opus encoder is not running'));
          } else {
            this.counters.bitrateBps = msg.bitrate;
            waiter?.resolve(msg.bitrate);
          }
        }
      };
      opus.postMessage({
        command: 'init',
        encoderSampleRate: 48000,
        originalSampleRate: opts.sampleRate,
        numberOfChannels: 1,
        // OPUS_APPLICATION_AUDIO: no speech-specific shaping, so what the relay measures is the microphone.
        encoderApplication: 2049,
        encoderFrameSize: FRAME_MS,
        encoderBitRate: opts.bitrate,
        encoderComplexity: opts.complexity,
        maxFramesPerPage: 1,
        streamPages: true,
      });
    });
  }

  push(frame: Float32Array): void {
    if (this.opus === null) return;
    this.noteFirstFrame(0);
    this.encode(frame);
  }

  setBitrate(bps: number): Promise<number> {
    const opus = this.opus;
    if (opus === null) return Promise.reject(new Error('the Opus encoder is not running'));
    if (!Number.isFinite(bps) || bps < MIN_OPUS_BPS || bps > MAX_OPUS_BPS) {
      return Promise.reject(new RangeError(`an Opus bitrate is ${MIN_OPUS_BPS}-${MAX_OPUS_BPS} bits/s, got ${bps}`));
    }
    // Frames waiting in the ring were captured before the change: encode them at the old rate first.
    this.drain();
    return new Promise<number>((resolve, reject) => {
      this.bitrateWaiters.push({ resolve, reject });
      opus.postMessage({ command: 'setBitrate', bitrate: Math.round(bps) });
    });
  }

  async stop(): Promise<EncoderStats> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.drain();
    const opus = this.opus;
    if (opus !== null) {
      await new Promise<void>((resolve) => {
        this.onDone = resolve;
        opus.postMessage({ command: 'done' });
        // An encoder that never answers must not hang the page's stop.
        setTimeout(resolve, 2000);
      });
      opus.terminate();
    }
    this.opus = null;
    if (this.opusUrl !== null) URL.revokeObjectURL(this.opusUrl);
    this.opusUrl = null;
    for (const w of this.bitrateWaiters.splice(0)) w.reject(new Error('the Opus encoder stopped'));
    return this.stats();
  }

  stats(): EncoderStats {
    return { ...this.counters, ringOverruns: this.ring?.overruns ?? 0 };
  }

  private drain(): void {
    const ring = this.ring;
    if (ring === null) return;
    while (ring.available >= this.frameSamples) {
      this.noteFirstFrame(ring.available - this.frameSamples);
      const frame = new Float32Array(this.frameSamples);
      ring.pop(frame, frame.length);
      this.encode(frame);
    }
  }

  /** Packet 0's wall time: now, less the audio still queued behind it. */
  private noteFirstFrame(samplesBehind: number): void {
    if (this.counters.firstSampleWallMs !== null) return;
    this.counters.firstSampleWallMs = Date.now() - ((this.frameSamples + samplesBehind) / this.sampleRate) * 1000;
  }

  private encode(frame: Float32Array): void {
    this.counters.framesIn++;
    this.opus?.postMessage({ command: 'encode', buffers: [frame] }, [frame.buffer]);
  }

  private onPage(bytes: Uint8Array): void {
    const page = readOggPage(bytes);
    const out: EncodedPacket[] = [];
    for (const packet of page.packets) {
      if (isOpusHeader(packet)) {
        if (this.head === null && packet[4] === 0x48) this.head = packet.slice(); // "OpusHead"
        continue;
      }
      out.push({ index: this.nextIndex++, data: packet.slice() });
    }
    if (out.length === 0) return;
    this.counters.packetsOut += out.length;
    for (const p of out) this.counters.bytesOut += p.data.length;
    this.sink?.(out, this.counters.firstSampleWallMs ?? Date.now());
  }

  /** The OpusHead, once the encoder has produced it. */
  opusHead(): Uint8Array | null {
    return this.head;
  }
}

Comlink.expose(new Encoder());
