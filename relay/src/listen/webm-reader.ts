/**
 * Reads back what the live WebM muxer writes, element by element (EBML, RFC 8794): enough
 * to check an init segment and clusters in tests and when debugging a listener, not a
 * demuxer. An element of unknown size (a live Segment or Cluster) runs to the end of the
 * bytes given.
 */

import { EBML_ID } from '../audio/ebml.ts';

/** Element IDs (audio/ebml.ts, beside the writer), for the readers of these elements. */
export { EBML_ID };

export interface EbmlElement {
  id: number;
  /** Where the element's data starts and ends in the buffer. */
  start: number;
  end: number;
  /** The size field said "unknown" (all ones): the element runs to the end of the buffer. */
  unknownSize: boolean;
}

/** A variable-length integer at `pos`: its value (marker removed unless `keepMarker`), length, and whether all its value bits are ones. */
function vint(buf: Uint8Array, pos: number, keepMarker: boolean): { value: number; length: number; allOnes: boolean } {
  const first = buf[pos];
  if (first === undefined || first === 0) throw new RangeError(`no EBML variable-length integer at byte ${pos}`);
  const length = Math.clz32(first) - 23;
  if (pos + length > buf.length) throw new RangeError(`EBML integer at byte ${pos} runs past the end`);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = (first & (0xff >> length)) === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + buf[pos + i];
    if (buf[pos + i] !== 0xff) allOnes = false;
  }
  return { value, length, allOnes };
}

/** The elements one after the other in buf[from, to). */
export function readElements(buf: Uint8Array, from = 0, to = buf.length): EbmlElement[] {
  const out: EbmlElement[] = [];
  let pos = from;
  while (pos < to) {
    const id = vint(buf, pos, true);
    const size = vint(buf, pos + id.length, false);
    const start = pos + id.length + size.length;
    const end = size.allOnes ? to : start + size.value;
    if (end > to) throw new RangeError(`element 0x${id.value.toString(16)} at byte ${pos} claims ${size.value} bytes; only ${to - start} follow`);
    out.push({ id: id.value, start, end, unknownSize: size.allOnes });
    pos = end;
  }
  return out;
}

/** The children of an element. */
export function children(buf: Uint8Array, e: EbmlElement): EbmlElement[] {
  return readElements(buf, e.start, e.end);
}

/** An unsigned integer element's value. */
export function uintValue(buf: Uint8Array, e: EbmlElement): number {
  let v = 0;
  for (let i = e.start; i < e.end; i++) v = v * 256 + buf[i];
  return v;
}

/** A whole cluster as a listener receives it: its Timestamp (ms) and its blocks' Opus payloads. */
export function readCluster(buf: Uint8Array): { timestampMs: number; blocks: { relativeMs: number; payload: Uint8Array }[] } {
  const [cluster, ...rest] = readElements(buf);
  if (cluster?.id !== EBML_ID.Cluster || rest.length > 0) throw new TypeError('not one whole Cluster');
  let timestampMs = -1;
  const blocks: { relativeMs: number; payload: Uint8Array }[] = [];
  for (const c of children(buf, cluster)) {
    if (c.id === EBML_ID.Timestamp) timestampMs = uintValue(buf, c);
    if (c.id === EBML_ID.SimpleBlock) {
      // Track number (a vint), a signed 16-bit relative timestamp, flags, then the frame.
      const track = vint(buf, c.start, false);
      const at = c.start + track.length;
      blocks.push({ relativeMs: new DataView(buf.buffer, buf.byteOffset + at, 2).getInt16(0), payload: buf.subarray(at + 3, c.end) });
    }
  }
  if (timestampMs < 0) throw new TypeError('a Cluster without a Timestamp');
  return { timestampMs, blocks };
}
