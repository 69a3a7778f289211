import { describe, expect, it } from 'vitest';
import { RtpParseError } from './errors.ts';
import { extensionForm, parseHeaderExtensions, serializeHeaderExtensions } from './header-extension.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const flat = (els: { id: number; data: Uint8Array }[]) => els.map((e) => [e.id, Buffer.from(e.data).toString('hex')]);

describe('RFC 8285 header extensions', () => {
  it('tells the forms apart by profile', () => {
    expect(extensionForm(0xbede)).toBe('one-byte');
    expect(extensionForm(0x1000)).toBe('two-byte');
    expect(extensionForm(0x100f)).toBe('two-byte');
    expect(extensionForm(0x1010)).toBeUndefined();
  });

  it('parses the one-byte example of RFC 8285 §4.2, skipping padding and stopping at id 15', () => {
    // id 1 (1 byte), padding, id 2 (4 bytes: L=3), then id 15 ends parsing.
    expect(flat(parseHeaderExtensions(0xbede, hex('10aa 00 23 01020304 f0 ffff')))).toEqual([
      [1, 'aa'],
      [2, '01020304'],
    ]);
  });

  it('parses the two-byte form, including a zero-length element', () => {
    expect(flat(parseHeaderExtensions(0x1000, hex('0100 0203 aabbcc 00 00')))).toEqual([
      [1, ''],
      [2, 'aabbcc'],
    ]);
  });

  it('refuses elements overrunning the block and unknown profiles', () => {
    expect(() => parseHeaderExtensions(0xbede, hex('13 aabb'))).toThrow(RtpParseError);
    expect(() => parseHeaderExtensions(0x1000, hex('0105 aabb'))).toThrow(/declares 5 bytes/);
    expect(() => parseHeaderExtensions(0x1000, hex('00 00 00 07'))).toThrow(/no length byte/);
    try {
      parseHeaderExtensions(0x1234, new Uint8Array(4));
      expect.unreachable();
    } catch (e) {
      expect((e as RtpParseError).code).toBe('bad_extension');
    }
  });

  it('serializes in the one-byte form when it can, padded to 32 bits, and round-trips', () => {
    const els = [
      { id: 3, data: hex('01') },
      { id: 14, data: hex('0203') },
    ];
    const block = serializeHeaderExtensions(els);
    expect(block.profile).toBe(0xbede);
    expect(Buffer.from(block.data).toString('hex')).toBe('3001e1020300'.padEnd(16, '0'));
    expect(flat(parseHeaderExtensions(block.profile, block.data))).toEqual(flat(els));
  });

  it('switches to the two-byte form for ids above 14 or empty data', () => {
    const els = [
      { id: 200, data: hex('aa') },
      { id: 1, data: new Uint8Array(0) },
    ];
    const block = serializeHeaderExtensions(els);
    expect(block.profile).toBe(0x1000);
    expect(Buffer.from(block.data).toString('hex')).toBe('c801aa0100000000');
    expect(flat(parseHeaderExtensions(block.profile, block.data))).toEqual(flat(els));
    expect(() => serializeHeaderExtensions(els, 'one-byte')).toThrow(TypeError);
  });
});
