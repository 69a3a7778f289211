/**
 * RTP header extension elements in the two general forms of RFC 8285 §4: the one-byte form
 * (profile 0xBEDE, §4.2) and the two-byte form (profile 0x100 in the top 12 bits, 4
 * "appbits" below, §4.3). RtpPacket keeps the extension raw (profile + data); these
 * functions turn that block into elements and back, for callers that negotiated the form.
 */
import { RtpParseError } from './errors.ts';

export const ONE_BYTE_PROFILE = 0xbede;
/** Two-byte profiles are 0x1000 to 0x100F: the low 4 bits are application bits (§4.3). */
export const TWO_BYTE_PROFILE_BASE = 0x1000;

export interface HeaderExtensionElement {
  /** Local identifier: 1..14 in the one-byte form, 1..255 in the two-byte form. */
  id: number;
  /** A view into the packet when parsed. */
  data: Uint8Array;
}

export type ExtensionForm = 'one-byte' | 'two-byte';

/** Which RFC 8285 form a profile value announces, or undefined for any other profile (RFC 3550 §5.3.1). */
export function extensionForm(profile: number): ExtensionForm | undefined {
  if (profile === ONE_BYTE_PROFILE) return 'one-byte';
  if ((profile & 0xfff0) === TWO_BYTE_PROFILE_BASE) return 'two-byte';
  return undefined;
}

/**
 * The elements of an extension block. Padding bytes (id 0) between and after elements are
 * skipped (§4.2, §4.3); in the one-byte form id 15 ends parsing (§4.2). Throws
 * RtpParseError('bad_extension') for a profile that is neither form or an element that
 * overruns the block.
 */
export function parseHeaderExtensions(profile: number, data: Uint8Array): HeaderExtensionElement[] {
  const form = extensionForm(profile);
  if (form === undefined) {
    throw new RtpParseError('bad_extension', `extension profile 0x${profile.toString(16)} is neither RFC 8285 form; expected 0xbede or 0x100X`);
  }
  const out: HeaderExtensionElement[] = [];
  let i = 0;
  while (i < data.length) {
    const b = data[i];
    if (b === 0) {
      i++;
      continue;
    }
    let id: number;
    let len: number;
    if (form === 'one-byte') {
      id = b >> 4;
      if (id === 15) break;
      len = (b & 0x0f) + 1;
      i += 1;
    } else {
      if (i + 2 > data.length) {
        throw new RtpParseError('bad_extension', `two-byte extension element at offset ${i} has no length byte; the block is ${data.length} bytes`);
      }
      id = b;
      len = data[i + 1];
      i += 2;
    }
    if (i + len > data.length) {
      throw new RtpParseError('bad_extension', `extension element id ${id} declares ${len} bytes at offset ${i}; the block has only ${data.length - i} left`);
    }
    out.push({ id, data: data.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/**
 * An extension block holding `elements`, zero-padded to a multiple of 4 bytes (RFC 3550
 * §5.3.1 counts the block in 32-bit words). The one-byte form is used unless an element
 * needs the two-byte one (id above 14, or data empty or longer than 16 bytes), or `form`
 * says otherwise.
 */
export function serializeHeaderExtensions(
  elements: readonly HeaderExtensionElement[],
  form: ExtensionForm = elements.every((e) => e.id >= 1 && e.id <= 14 && e.data.length >= 1 && e.data.length <= 16) ? 'one-byte' : 'two-byte',
): { profile: number; data: Uint8Array } {
  const perElement = form === 'one-byte' ? 1 : 2;
  let n = 0;
  for (const e of elements) {
    if (form === 'one-byte' && (e.id < 1 || e.id > 14 || e.data.length < 1 || e.data.length > 16)) {
      throw new TypeError(`one-byte extension elements need an id in [1, 14] and 1 to 16 bytes; got id ${e.id} with ${e.data.length}`);
    }
    if (form === 'two-byte' && (e.id < 1 || e.id > 255 || e.data.length > 255)) {
      throw new TypeError(`two-byte extension elements need an id in [1, 255] and at most 255 bytes; got id ${e.id} with ${e.data.length}`);
    }
    n += perElement + e.data.length;
  }
  const data = new Uint8Array((n + 3) & ~3);
  let i = 0;
  for (const e of elements) {
    if (form === 'one-byte') {
      data[i++] = (e.id << 4) | (e.data.length - 1);
    } else {
      data[i++] = e.id;
      data[i++] = e.data.length;
    }
    data.set(e.data, i);
    i += e.data.length;
  }
  return { profile: form === 'one-byte' ? ONE_BYTE_PROFILE : TWO_BYTE_PROFILE_BASE, data };
}
