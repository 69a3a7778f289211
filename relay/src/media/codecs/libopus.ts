/**
 * libopus through its C API, on the WebAssembly build that @evan/opus ships (libopus
 * compiled to wasm): the decoder of every Opus ingest stream, and the encoder of listener
 * egress (opus-encoder.ts). That package's own wrapper decodes with a fixed 120 ms frame
 * size and never asks for FEC, while concealment needs the rest of `opus_decode`:
 *
 *   opus_decode(st, NULL, 0, pcm, frame_size, 0)     packet loss concealment of frame_size
 *   opus_decode(st, next, len, pcm, frame_size, 1)   the lost frame from the next packet's
 *                                                     in-band FEC (LBRR), or PLC without it
 *
 * (RFC 6716 §2.1.7 and §4.4; libopus opus_decode documentation.) Its encoder wrapper returns
 * a new buffer per packet and sets options by name only; the encoder here writes each packet
 * into the caller's buffer and takes `opus_encoder_ctl` requests by number (opus_defines.h).
 *
 * One module instance per thread, shared by its decoders and encoders; each one's state is
 * malloc'd in its memory, and one scratch area for a packet and its PCM is shared by all of
 * them (the calls are synchronous). Samples are converted straight between wasm memory and
 * the caller's Float32Array, packets copied straight into the caller's buffer: nothing is
 * allocated per packet.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { float32ToInt16, int16ToFloat32 } from '../../../../worklets/dsp/pcm.ts';

interface OpusExports {
  memory: WebAssembly.Memory;
  malloc(bytes: number): number;
  free(ptr: number): void;
  opus_strerror(code: number): number;
  opus_decoder_get_size(channels: number): number;
  opus_decoder_init(st: number, sampleRate: number, channels: number): number;
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, decodeFec: number): number;
  opus_encoder_get_size(channels: number): number;
  opus_encoder_init(st: number, sampleRate: number, channels: number, application: number): number;
  /** Encodes frameSize 16-bit samples at pcm into at most maxBytes at data: the packet's length, or an error code. */
  opus_encode(st: number, pcm: number, frameSize: number, data: number, maxBytes: number): number;
  /** opus_encoder_ctl(st, request, value) for a SET request: an error code (0 = OPUS_OK). */
  opus_encoder_ctl_set(st: number, request: number, value: number): number;
  /** opus_encoder_ctl(st, request, &value) for a GET request: the value. */
  opus_encoder_ctl_get(st: number, request: number): number;
}

/** The largest packet accepted, bytes (an ingest message is at most 64 KiB). */
export const MAX_PACKET_BYTES = 64 * 1024;
/** The largest frame decoded at once: 120 ms at 48 kHz (RFC 6716 §3.2.5). */
const MAX_FRAME_SAMPLES = 5760;

class Module {
  readonly wasm: OpusExports;
  readonly packetPtr: number;
  readonly pcmPtr: number;
  private heap: Uint8Array;
  /** The PCM scratch area as 16-bit samples (malloc aligns it). */
  private pcm16: Int16Array;

  constructor() {
    const dir = dirname(createRequire(import.meta.url).resolve('@evan/opus/package.json'));
    // The SIMD build where the engine validates a SIMD instruction (as the package chooses).
    const simd = WebAssembly.validate(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11));
    const module = new WebAssembly.Module(readFileSync(join(dir, 'wasm', simd ? 'simd.wasm' : 'opus.wasm')));
    const noop = (): number => 0;
    const instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: { fd_seek: noop, fd_write: noop, fd_close: noop, proc_exit: noop },
      env: { emscripten_notify_memory_growth: () => this.remap() },
    });
    this.wasm = instance.exports as unknown as OpusExports;
    this.packetPtr = this.wasm.malloc(MAX_PACKET_BYTES);
    this.pcmPtr = this.wasm.malloc(MAX_FRAME_SAMPLES * 2);
    this.heap = new Uint8Array(this.wasm.memory.buffer);
    this.pcm16 = new Int16Array(this.wasm.memory.buffer, this.pcmPtr, MAX_FRAME_SAMPLES);
  }

  /** The wasm memory as bytes (new views after the memory grew). */
  get bytes(): Uint8Array {
    if (this.heap.buffer !== this.wasm.memory.buffer) this.remap();
    return this.heap;
  }

  /** The decoded samples of the last call. */
  get pcm(): Int16Array {
    if (this.pcm16.buffer !== this.wasm.memory.buffer) this.remap();
    return this.pcm16;
  }

  private remap(): void {
    this.heap = new Uint8Array(this.wasm.memory.buffer);
    this.pcm16 = new Int16Array(this.wasm.memory.buffer, this.pcmPtr, MAX_FRAME_SAMPLES);
  }

  errorText(code: number): string {
    const bytes = this.bytes;
    let s = '';
    for (let p = this.wasm.opus_strerror(code); bytes[p] !== 0 && s.length < 200; p++) s += String.fromCharCode(bytes[p]);
    return s;
  }
}

let shared: Module | null = null;
const module = (): Module => (shared ??= new Module());

/** A libopus error code (OPUS_BAD_ARG, OPUS_INVALID_PACKET, ...), with its text. */
export class LibopusError extends Error {
  constructor(
    readonly code: number,
    text: string,
  ) {
    super(`libopus: ${text} (${code})`);
    this.name = 'LibopusError';
  }
}

export class LibopusDecoder {
  private state: number;
  private readonly m: Module;

  /** @param sampleRate 8000, 12000, 16000, 24000 or 48000 Hz; mono. */
  constructor(readonly sampleRate: number) {
    this.m = module();
    const { wasm } = this.m;
    this.state = wasm.malloc(wasm.opus_decoder_get_size(1));
    const rc = wasm.opus_decoder_init(this.state, sampleRate, 1);
    if (rc < 0) {
      wasm.free(this.state);
      this.state = 0;
      throw new LibopusError(rc, this.m.errorText(rc));
    }
  }

  /** Decodes one packet into out[0..n); `maxSamples` bounds the frame (at most 120 ms). */
  decode(packet: Uint8Array, out: Float32Array, maxSamples: number): number {
    if (packet.length > MAX_PACKET_BYTES) throw new LibopusError(-1, `packet of ${packet.length} bytes is over ${MAX_PACKET_BYTES}`);
    this.m.bytes.set(packet, this.m.packetPtr);
    return this.run(this.m.packetPtr, packet.length, out, Math.min(maxSamples, MAX_FRAME_SAMPLES), 0);
  }

  /** Packet loss concealment: `samples` (a multiple of 2.5 ms) of the decoder's extrapolation. */
  conceal(out: Float32Array, samples: number): number {
    return this.run(0, 0, out, samples, 0);
  }

  /**
   * The `samples` lost just before `next`, from `next`'s in-band FEC; libopus conceals when
   * `next` carries none. The decoder's state then expects `next` itself.
   */
  recover(next: Uint8Array, out: Float32Array, samples: number): number {
    if (next.length > MAX_PACKET_BYTES) return this.conceal(out, samples);
    this.m.bytes.set(next, this.m.packetPtr);
    return this.run(this.m.packetPtr, next.length, out, samples, 1);
  }

  /** Frees the decoder's state; safe to call twice. */
  close(): void {
    if (this.state === 0) return;
    this.m.wasm.free(this.state);
    this.state = 0;
  }

  private run(data: number, len: number, out: Float32Array, frameSize: number, fec: 0 | 1): number {
    if (this.state === 0) throw new LibopusError(-1, 'decoder is closed');
    const { wasm, pcmPtr } = this.m;
    const n = wasm.opus_decode(this.state, data, len, pcmPtr, Math.min(frameSize, MAX_FRAME_SAMPLES, out.length), fec);
    if (n < 0) throw new LibopusError(n, this.m.errorText(n));
    int16ToFloat32(this.m.pcm, out, n);
    return n;
  }
}

/** opus_encoder_init's `application` (opus_defines.h: OPUS_APPLICATION_VOIP, _AUDIO). */
export const OPUS_APPLICATION = { voip: 2048, audio: 2049 } as const;
export type OpusApplication = keyof typeof OPUS_APPLICATION;

/** The largest packet of one frame, bytes (RFC 6716 §3.2.1: 1275, plus the TOC byte's room). */
export const MAX_ENCODED_FRAME_BYTES = 1276;

/**
 * One mono libopus encoder. `encode` converts Float32 samples to 16 bits straight into wasm
 * memory (opus_encode takes 16-bit PCM; the build has no opus_encode_float) and copies the
 * packet into the caller's buffer.
 */
export class LibopusEncoder {
  private state: number;
  private readonly m: Module;

  /** @param sampleRate input rate: 8000, 12000, 16000, 24000 or 48000 Hz; mono. */
  constructor(
    readonly sampleRate: number,
    application: OpusApplication,
  ) {
    this.m = module();
    const { wasm } = this.m;
    this.state = wasm.malloc(wasm.opus_encoder_get_size(1));
    const rc = wasm.opus_encoder_init(this.state, sampleRate, 1, OPUS_APPLICATION[application]);
    if (rc < 0) {
      wasm.free(this.state);
      this.state = 0;
      throw new LibopusError(rc, this.m.errorText(rc));
    }
  }

  /** opus_encoder_ctl with a SET request (OPUS_SET_BITRATE_REQUEST, ...) and its value. */
  set(request: number, value: number): void {
    const rc = this.m.wasm.opus_encoder_ctl_set(this.live(), request, value);
    if (rc < 0) throw new LibopusError(rc, `${this.m.errorText(rc)} (request ${request}, value ${value})`);
  }

  /** opus_encoder_ctl with a GET request (OPUS_GET_LOOKAHEAD_REQUEST, ...): the value. */
  get(request: number): number {
    return this.m.wasm.opus_encoder_ctl_get(this.live(), request);
  }

  /**
   * Encodes src[srcOffset, srcOffset + frameSize) (a frame duration Opus allows: 2.5 to 60 ms)
   * into dst at dstOffset, at most `maxBytes`: the packet's length in bytes.
   */
  encode(src: Float32Array, srcOffset: number, frameSize: number, dst: Uint8Array, dstOffset: number, maxBytes = MAX_ENCODED_FRAME_BYTES): number {
    const st = this.live();
    const { wasm, pcmPtr, packetPtr } = this.m;
    if (frameSize > MAX_FRAME_SAMPLES) throw new LibopusError(-1, `frame of ${frameSize} samples is over ${MAX_FRAME_SAMPLES}`);
    if (dstOffset + maxBytes > dst.length) throw new RangeError(`no room for ${maxBytes} bytes at offset ${dstOffset} of a ${dst.length}-byte buffer`);
    float32ToInt16(src, this.m.pcm, frameSize, srcOffset, 0);
    const n = wasm.opus_encode(st, pcmPtr, frameSize, packetPtr, Math.min(maxBytes, MAX_PACKET_BYTES));
    if (n < 0) throw new LibopusError(n, this.m.errorText(n));
    const heap = this.m.bytes;
    for (let i = 0; i < n; i++) dst[dstOffset + i] = heap[packetPtr + i];
    return n;
  }

  /** Frees the encoder's state; safe to call twice. */
  close(): void {
    if (this.state === 0) return;
    this.m.wasm.free(this.state);
    this.state = 0;
  }

  private live(): number {
    if (this.state === 0) throw new LibopusError(-1, 'encoder is closed');
    return this.state;
  }
}
