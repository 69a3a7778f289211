/**
 * The low-latency player's decoder worker (driven by the page through comlink): binary
 * messages of the listen socket in, decoded 48 kHz mono frames out to the playout worklet,
 * straight from here (a SharedArrayBuffer frame ring when the page is cross-origin
 * isolated, a MessagePort otherwise), so decoded audio never waits on the page's thread.
 *
 * Decoder: WebCodecs' AudioDecoder (codec 'opus') where the browser has it and says it
 * supports the configuration; else opus-decoder, libopus compiled to WebAssembly, loaded
 * only when needed. Packets are decoded in arrival order (the relay's socket is TCP, so in
 * sequence order too); the worklet's jitter buffer does ordering, timing and concealment.
 */
import * as Comlink from 'comlink';
import type { OpusDecoder } from 'opus-decoder';
import { FrameRing } from '../../../worklets/processors/frame-ring.ts';
import type { PlayoutFrameMessage } from '../../../worklets/processors/playout-protocol.ts';
import type { DecoderApi, DecoderKind, DecoderOptions, DecoderStats } from './decoder-api';
import { PacketReader, type ListenPacket } from './packet-reader';

const SAMPLE_RATE = 48000;
const CHANNELS = 1;
const CODEC_CONFIG: AudioDecoderConfig = { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: CHANNELS };
/** Packets given to AudioDecoder and not yet out: more means it is stuck; the oldest are forgotten. */
const MAX_IN_FLIGHT = 50;

interface InFlight {
  seq: number;
  timestampMs: number;
  arrivalMs: number;
  /** The chunk's timestamp, µs, which its AudioData carries back. */
  timestampUs: number;
}

class Decoder implements DecoderApi {
  private kind: DecoderKind | null = null;
  private ring: FrameRing | null = null;
  private port: MessagePort | null = null;
  private readonly reader = new PacketReader();
  private webcodecs: AudioDecoder | null = null;
  private wasm: OpusDecoder<48000> | null = null;
  private inFlight: InFlight[] = [];
  private scratch = new Float32Array(SAMPLE_RATE * 0.12);
  private readonly counters: Omit<DecoderStats, 'decoder'> = { packets: 0, frames: 0, decodeErrors: 0, malformed: 0 };

  async start(opts: DecoderOptions): Promise<DecoderKind> {
    if (this.kind !== null) throw new Error('the decoder is already started');
    this.ring = opts.ring ? new FrameRing(opts.ring) : null;
    this.port = opts.port;
    if (opts.prefer !== 'wasm' && (await webCodecsOpus())) {
      this.webcodecs = this.newAudioDecoder();
      this.kind = 'webcodecs';
    } else {
      await this.loadWasm();
      this.kind = 'wasm';
    }
    return this.kind;
  }

  push(message: ArrayBuffer, arrivalMs: number): void {
    this.counters.packets++;
    const r = this.reader.read(new Uint8Array(message));
    if (!r.ok) {
      this.counters.malformed++;
      return;
    }
    if (this.webcodecs !== null) this.decodeWebCodecs(r.packet, arrivalMs);
    else if (this.wasm !== null) this.decodeWasm(r.packet, arrivalMs);
  }

  async restart(): Promise<void> {
    this.reader.reset();
    this.inFlight = [];
    if (this.webcodecs !== null) {
      if (this.webcodecs.state !== 'closed') this.webcodecs.close();
      this.webcodecs = this.newAudioDecoder();
    } else if (this.wasm !== null) {
      await this.wasm.reset();
    }
  }

  stats(): DecoderStats {
    return { decoder: this.kind, ...this.counters };
  }

  close(): void {
    if (this.webcodecs !== null && this.webcodecs.state !== 'closed') this.webcodecs.close();
    this.webcodecs = null;
    this.wasm?.free();
    this.wasm = null;
    this.port?.close();
    this.port = null;
  }

  private newAudioDecoder(): AudioDecoder {
    const d = new AudioDecoder({
      output: (data) => this.onAudioData(data),
      error: () => {
        // A decoder error closes the AudioDecoder (WebCodecs §3.5): count it and start a new one.
        this.counters.decodeErrors++;
        this.inFlight = [];
        if (this.webcodecs === d) this.webcodecs = this.newAudioDecoder();
      },
    });
    d.configure(CODEC_CONFIG);
    return d;
  }

  private decodeWebCodecs(p: ListenPacket, arrivalMs: number): void {
    const d = this.webcodecs as AudioDecoder;
    const timestampUs = p.timestampMs * 1000;
    if (this.inFlight.length >= MAX_IN_FLIGHT) this.inFlight.shift();
    this.inFlight.push({ seq: p.seq, timestampMs: p.timestampMs, arrivalMs, timestampUs });
    try {
      d.decode(new EncodedAudioChunk({ type: 'key', timestamp: timestampUs, data: p.payload }));
    } catch {
      this.counters.decodeErrors++;
      this.inFlight.pop();
    }
  }

  private onAudioData(data: AudioData): void {
    try {
      // Outputs come in input order; match by timestamp, forgetting packets that gave none.
      let i = this.inFlight.findIndex((f) => f.timestampUs === data.timestamp);
      if (i < 0) i = 0;
      const meta = this.inFlight[i];
      this.inFlight.splice(0, i + 1);
      if (meta === undefined) return;
      const n = data.numberOfFrames;
      if (n > this.scratch.length) this.scratch = new Float32Array(n);
      data.copyTo(this.scratch.subarray(0, n), { planeIndex: 0, format: 'f32-planar' });
      this.deliver(meta.seq, meta.timestampMs, meta.arrivalMs, this.scratch, n);
    } finally {
      data.close();
    }
  }

  private async loadWasm(): Promise<void> {
    const { OpusDecoder } = await import('opus-decoder');
    const d = new OpusDecoder({ sampleRate: SAMPLE_RATE, channels: CHANNELS });
    await d.ready;
    this.wasm = d;
  }

  private decodeWasm(p: ListenPacket, arrivalMs: number): void {
    const out = (this.wasm as OpusDecoder<48000>).decodeFrame(p.payload);
    if (out.errors.length > 0 || out.samplesDecoded === 0) {
      this.counters.decodeErrors++;
      return;
    }
    const pcm = out.channelData[0];
    this.deliver(p.seq, p.timestampMs, arrivalMs, pcm, out.samplesDecoded);
  }

  /** To the worklet: through the ring (copied in) or the port (a copy transferred). */
  private deliver(seq: number, timestampMs: number, arrivalMs: number, pcm: Float32Array, length: number): void {
    this.counters.frames++;
    if (this.ring !== null) {
      if (length > this.ring.maxFrameSamples) length = this.ring.maxFrameSamples;
      this.ring.push(seq, timestampMs, arrivalMs, pcm, length);
      return;
    }
    if (this.port === null) return;
    const copy = pcm.slice(0, length);
    const msg: PlayoutFrameMessage = { seq, timestampMs, arrivalMs, pcm: copy };
    this.port.postMessage(msg, [copy.buffer]);
  }
}

/** Whether this browser's WebCodecs decodes 48 kHz mono Opus. */
async function webCodecsOpus(): Promise<boolean> {
  if (typeof AudioDecoder === 'undefined' || typeof EncodedAudioChunk === 'undefined') return false;
  try {
    return (await AudioDecoder.isConfigSupported(CODEC_CONFIG)).supported === true;
  } catch {
    return false;
  }
}

Comlink.expose(new Decoder());
