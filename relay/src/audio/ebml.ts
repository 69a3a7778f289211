/**
 * EBML (RFC 8794) element IDs and writing, for the Matroska/WebM (RFC 9559) files the relay
 * builds itself: the WebM export (store/segment-export-webm.ts) needs CodecDelay and
 * DiscardPadding, which mediabunny's muxer (the live listen stream's, webm-live-muxer.ts)
 * does not write. The reader of the same elements is listen/webm-reader.ts.
 *
 * Elements are built bottom-up as Buffers: a master element's size is its children's
 * bytes, so each is written with the shortest size field that holds it. Only a Segment
 * written before its end is known gets the "unknown" size (RFC 8794 §6.2).
 */

/** Element IDs (with their marker bits) of the Matroska/WebM elements the relay reads or writes (RFC 9559 §5.1). */
export const EBML_ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  SeekPreRoll: 0x56bb,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  DiscardPadding: 0x75a2,
} as const;

/** The size field of an element whose end is not known when it starts: 8 bytes, all value bits set. */
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** An ID's bytes: IDs carry their own length marker, so they are written as their value. */
function idBytes(id: number): Buffer {
  const length = id >= 0x1000000 ? 4 : id >= 0x10000 ? 3 : id >= 0x100 ? 2 : 1;
  const b = Buffer.alloc(length);
  b.writeUIntBE(id, 0, length);
  return b;
}

/** The shortest size field for `n` bytes (all-ones values are reserved for "unknown"). */
export function sizeField(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`an element size must be a non-negative integer, got ${n}`);
  let length = 1;
  while (n >= 2 ** (7 * length) - 1) length++;
  if (length > 8) throw new RangeError(`an element of ${n} bytes is too large for EBML`);
  const b = Buffer.alloc(length);
  let v = n;
  for (let i = length - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  b[0] |= 0x80 >> (length - 1);
  return b;
}

/** An element of the given payload bytes (a master element: its children, concatenated). */
export function element(id: number, payload: Buffer | readonly Buffer[]): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.concat(payload as Buffer[]);
  return Buffer.concat([idBytes(id), sizeField(body.length), body]);
}

/** The start of an element of unknown size (its children follow until the end of the file). */
export function unknownSizeStart(id: number): Buffer {
  return Buffer.concat([idBytes(id), UNKNOWN_SIZE]);
}

/** An unsigned integer element, in the fewest bytes (at least one). */
export function uintElement(id: number, value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`element 0x${id.toString(16)} takes an unsigned integer, got ${value}`);
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return element(id, Buffer.from(bytes));
}

/** A signed integer element (two's complement, in the fewest bytes that keep the sign). */
export function intElement(id: number, value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`element 0x${id.toString(16)} takes an integer, got ${value}`);
  let length = 1;
  while (length < 8 && (value < -(2 ** (8 * length - 1)) || value >= 2 ** (8 * length - 1))) length++;
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(value));
  return element(id, b.subarray(8 - length));
}

/** A float element (8 bytes, IEEE 754 double). */
export function floatElement(id: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return element(id, b);
}

/** A string element (ASCII or UTF-8). */
export function stringElement(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}
