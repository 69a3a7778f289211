/**
 * Packets travel from the control plane to a media worker in batches: one transferable
 * ArrayBuffer per event-loop turn per worker, instead of one structured-clone message per
 * packet. Record layout (little-endian):
 *   u32 stationId | u32 timestampMs | u16 sequence | u8 codec | u8 flags | f64 arrivalMs | u32 length | payload
 */

const RECORD_HEADER = 24;

export interface PacketView {
  stationId: number;
  timestampMs: number;
  sequence: number;
  codec: number;
  flags: number;
  /** Epoch milliseconds with sub-ms precision (performance.timeOrigin + performance.now()). */
  arrivalMs: number;
  /** A view into the batch buffer: valid as long as it is referenced. */
  payload: Uint8Array;
  /** Media time since the station's first packet, unwrapped (set by the station). */
  mediaMs: number;
}

export class PacketBatchWriter {
  private buf: ArrayBuffer;
  private view: DataView;
  private bytes: Uint8Array;
  private used = 0;
  count = 0;

  constructor(private readonly initialBytes = 16 * 1024) {
    this.buf = new ArrayBuffer(initialBytes);
    this.view = new DataView(this.buf);
    this.bytes = new Uint8Array(this.buf);
  }

  append(stationId: number, timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void {
    const need = this.used + RECORD_HEADER + payload.length;
    if (need > this.buf.byteLength) this.grow(need);
    const v = this.view;
    const o = this.used;
    v.setUint32(o, stationId, true);
    v.setUint32(o + 4, timestampMs >>> 0, true);
    v.setUint16(o + 8, sequence & 0xffff, true);
    v.setUint8(o + 10, codec);
    v.setUint8(o + 11, flags);
    v.setFloat64(o + 12, arrivalMs, true);
    v.setUint32(o + 20, payload.length, true);
    this.bytes.set(payload, o + RECORD_HEADER);
    this.used = need;
    this.count++;
  }

  /** Hands over the filled buffer (to be transferred) and starts a new one. */
  take(): { buffer: ArrayBuffer; bytes: number; count: number } {
    const out = { buffer: this.buf, bytes: this.used, count: this.count };
    this.buf = new ArrayBuffer(Math.max(this.initialBytes, this.used));
    this.view = new DataView(this.buf);
    this.bytes = new Uint8Array(this.buf);
    this.used = 0;
    this.count = 0;
    return out;
  }

  private grow(need: number): void {
    let size = this.buf.byteLength * 2;
    while (size < need) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(this.bytes.subarray(0, this.used));
    this.buf = next;
    this.view = new DataView(next);
    this.bytes = new Uint8Array(next);
  }
}

export function* readPacketBatch(buffer: ArrayBuffer, bytes: number): Generator<PacketView> {
  const v = new DataView(buffer);
  let o = 0;
  while (o + RECORD_HEADER <= bytes) {
    const length = v.getUint32(o + 20, true);
    yield {
      stationId: v.getUint32(o, true),
      timestampMs: v.getUint32(o + 4, true),
      sequence: v.getUint16(o + 8, true),
      codec: v.getUint8(o + 10),
      flags: v.getUint8(o + 11),
      arrivalMs: v.getFloat64(o + 12, true),
      payload: new Uint8Array(buffer, o + RECORD_HEADER, length),
      mediaMs: 0,
    };
    o += RECORD_HEADER + length;
  }
}
