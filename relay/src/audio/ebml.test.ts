/**
 * The EBML writer against RFC 8794's encodings and our reader (listen/webm-reader.ts):
 * shortest size fields (all-ones reserved), signed and unsigned integers in the fewest bytes,
 * and nested master elements that read back.
 */
import { describe, expect, it } from 'vitest';
import { children, readElements, uintValue } from '../listen/webm-reader.ts';
import { EBML_ID, element, floatElement, intElement, sizeField, stringElement, uintElement, unknownSizeStart } from './ebml.ts';

const hex = (b: Buffer): string => b.toString('hex');

describe('EBML writer', () => {
  it('writes the shortest size field, never the all-ones value', () => {
    expect(hex(sizeField(0))).toBe('80');
    expect(hex(sizeField(126))).toBe('fe');
    expect(hex(sizeField(127))).toBe('407f'); // 0xff would mean "unknown"
    expect(hex(sizeField(16382))).toBe('7ffe');
    expect(hex(sizeField(16383))).toBe('203fff');
    expect(() => sizeField(-1)).toThrow(RangeError);
  });

  it('writes IDs as their bytes, integers in the fewest bytes, signed ones in two\'s complement', () => {
    expect(hex(uintElement(EBML_ID.TrackNumber, 1))).toBe('d78101');
    expect(hex(uintElement(EBML_ID.TimestampScale, 1_000_000))).toBe('2ad7b1830f4240');
    expect(hex(uintElement(EBML_ID.Timestamp, 0))).toBe('e78100');
    expect(hex(intElement(EBML_ID.DiscardPadding, 127))).toBe('75a2817f');
    expect(hex(intElement(EBML_ID.DiscardPadding, 128))).toBe('75a2820080');
    expect(hex(intElement(EBML_ID.DiscardPadding, -1))).toBe('75a281ff');
    expect(hex(floatElement(EBML_ID.Duration, 1))).toBe('4489883ff0000000000000');
    expect(hex(stringElement(EBML_ID.DocType, 'webm'))).toBe('4282847765626d');
    expect(hex(unknownSizeStart(EBML_ID.Segment))).toBe('1853806701ffffffffffffff');
  });

  it('nests master elements that the reader takes apart again', () => {
    const payload = Buffer.alloc(300, 7);
    const cluster = element(EBML_ID.Cluster, [uintElement(EBML_ID.Timestamp, 40_000), element(EBML_ID.SimpleBlock, payload)]);
    const file = Buffer.concat([unknownSizeStart(EBML_ID.Segment), cluster]);
    const [segment] = readElements(file);
    expect(segment.unknownSize).toBe(true);
    const [c] = children(file, segment);
    expect(c.id).toBe(EBML_ID.Cluster);
    const [ts, block] = children(file, c);
    expect(uintValue(file, ts)).toBe(40_000);
    expect(block.end - block.start).toBe(300);
  });
});
