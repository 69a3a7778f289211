/**
 * Encoded listener audio travels from a media worker to the control plane in batches: the
 * packets of every station and tap the worker encoded since its last flush, in one
 * transferable ArrayBuffer (one postMessage per flush, never one per packet; the model is
 * packet-batch.ts, which carries ingest the other way). The control plane hands out views
 * into the buffer it received; a transferred buffer is never written again, so they stay
 * valid. Record layout (little-endian):
 *
 *   u32 stationId | u8 flags | u8 generation | u16 length |
 *   u32 sequence | f64 timestampMs | f64 arrivalMs | payload (length bytes)
 *
 * `flags`: bit 0 the tap (0 PRE, 1 POST), bit 1 set for a history packet (egress.ts: audio
 * the station had already played, encoded when the encoder started).
 *
 * `generation` counts the tap's encoder starts, modulo 256 (station.ts): the control plane
 * drops what an encoder it has since replaced still had in flight. `sequence` counts from 0
 * per encoder and is not wrapped (a u32 at 50 packets a second lasts 994 days).
 */

/** Bytes before each packet's payload. */
export const EGRESS_RECORD_HEADER_BYTES = 28;
const RECORD_HEADER = EGRESS_RECORD_HEADER_BYTES;
const MAX_PAYLOAD = 0xffff;

export interface EgressRecord {
  stationId: number;
  tap: 0 | 1;
  generation: number;
  sequence: number;
  /** Media time of the packet's first sample, epoch ms. */
  timestampMs: number;
  /** Arrival of the newest ingest packet in it, epoch ms. */
  arrivalMs: number;
  /** Encoded at the encoder's start from audio already played (egress.ts), not live. */
  history: boolean;
  /** A view into the batch's buffer. */
  data: Uint8Array;
}

const FLAG_POST = 1;
const FLAG_HISTORY = 2;

export class EgressBatchWriter {
  private buf: ArrayBuffer | null = null;
  private view: DataView | null = null;
  private u8: Uint8Array | null = null;
  private used = 0;
  /** reserve's answer, reused (offset -1: nothing reserved). */
  private readonly slot: { target: Uint8Array; offset: number } = { target: new Uint8Array(0), offset: -1 };
  private reserved = 0;
  /** Packets in the batch. */
  count = 0;

  constructor(private readonly initialBytes = 16 * 1024) {}

  /** Bytes in the batch. */
  get bytes(): number {
    return this.used;
  }

  /**
   * Makes room for one packet of at most `maxBytes` and returns the buffer and the offset its
   * payload is to be written at; `commit` then records it. Nothing is allocated unless the
   * batch must grow (or starts after a `take`).
   */
  reserve(maxBytes: number): { target: Uint8Array; offset: number } {
    if (!(maxBytes >= 0 && maxBytes <= MAX_PAYLOAD)) throw new RangeError(`a packet is at most ${MAX_PAYLOAD} bytes, not ${maxBytes}`);
    const need = this.used + RECORD_HEADER + maxBytes;
    if (this.u8 === null || need > this.u8.length) this.grow(need);
    this.slot.target = this.u8 as Uint8Array;
    this.slot.offset = this.used + RECORD_HEADER;
    this.reserved = maxBytes;
    return this.slot;
  }

  /** Records the packet whose `length` bytes were written where `reserve` said. */
  commit(stationId: number, tap: 0 | 1, generation: number, sequence: number, timestampMs: number, arrivalMs: number, length: number, history = false): void {
    const v = this.view;
    const o = this.used;
    if (v === null || this.slot.offset !== o + RECORD_HEADER) throw new Error('commit() without a matching reserve()');
    if (!(length >= 0 && length <= this.reserved)) throw new RangeError(`a ${length}-byte packet is more than the ${this.reserved} bytes reserved`);
    v.setUint32(o, stationId, true);
    v.setUint8(o + 4, (tap === 1 ? FLAG_POST : 0) | (history ? FLAG_HISTORY : 0));
    v.setUint8(o + 5, generation & 0xff);
    v.setUint16(o + 6, length, true);
    v.setUint32(o + 8, sequence >>> 0, true);
    v.setFloat64(o + 12, timestampMs, true);
    v.setFloat64(o + 20, arrivalMs, true);
    this.used = o + RECORD_HEADER + length;
    this.slot.offset = -1;
    this.count++;
  }

  /** reserve + copy + commit, for a packet already in a buffer of its own. */
  append(stationId: number, tap: 0 | 1, generation: number, sequence: number, timestampMs: number, arrivalMs: number, payload: Uint8Array, history = false): void {
    const { target, offset } = this.reserve(payload.length);
    target.set(payload, offset);
    this.commit(stationId, tap, generation, sequence, timestampMs, arrivalMs, payload.length, history);
  }

  /** Hands over the filled buffer (to be transferred); the next packet starts a new one. */
  take(): { buffer: ArrayBuffer; bytes: number; count: number } {
    const out = { buffer: this.buf ?? new ArrayBuffer(0), bytes: this.used, count: this.count };
    this.buf = null;
    this.view = null;
    this.u8 = null;
    this.used = 0;
    this.count = 0;
    this.slot.offset = -1;
    return out;
  }

  private grow(need: number): void {
    let size = Math.max(this.initialBytes, this.u8?.length ?? 0);
    while (size < need) size *= 2;
    const next = new ArrayBuffer(size);
    const u8 = new Uint8Array(next);
    if (this.u8 !== null) u8.set(this.u8.subarray(0, this.used));
    this.buf = next;
    this.view = new DataView(next);
    this.u8 = u8;
  }
}

/** The records of a batch, in the order they were written. */
export function* readEgressBatch(buffer: ArrayBuffer, bytes: number): Generator<EgressRecord> {
  const v = new DataView(buffer, 0, bytes);
  let o = 0;
  while (o < bytes) {
    if (o + RECORD_HEADER > bytes) throw new RangeError(`egress batch: a record header at ${o} runs past the end (${bytes} bytes)`);
    const length = v.getUint16(o + 6, true);
    if (o + RECORD_HEADER + length > bytes) throw new RangeError(`egress batch: a ${length}-byte packet at ${o} runs past the end (${bytes} bytes)`);
    const flags = v.getUint8(o + 4);
    yield {
      stationId: v.getUint32(o, true),
      tap: (flags & FLAG_POST) === 0 ? 0 : 1,
      generation: v.getUint8(o + 5),
      sequence: v.getUint32(o + 8, true),
      timestampMs: v.getFloat64(o + 12, true),
      arrivalMs: v.getFloat64(o + 20, true),
      history: (flags & FLAG_HISTORY) !== 0,
      data: new Uint8Array(buffer, o + RECORD_HEADER, length),
    };
    o += RECORD_HEADER + length;
  }
}
