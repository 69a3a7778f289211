import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OpusFrameEncoder } from '../relay/src/media/codecs/opus-encoder.ts';
import { measureRmsDbfs, sine, toInt16 } from '../relay/src/audio/signals.ts';
import { skipWithout } from '../relay/src/testing/tool-required.ts';
import { HEADER_TYPE_BOS, HEADER_TYPE_EOS, isOpusHeader, oggCrc, opusHead, opusHeadPreSkip, OggError, readOggPage, writeOggOpus } from './ogg-opus.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).error === undefined;

/** 2 s of a -12 dBFS 1 kHz sine as 20 ms Opus packets (48 kHz mono, 32 kbps). */
function opusPackets(): Uint8Array[] {
  const enc = new OpusFrameEncoder({ sampleRate: 48000, bitrate: 32000, frameMs: 20 });
  const pcm = toInt16(sine(1000, -12, 2, 48000));
  const out: Uint8Array[] = [];
  for (let i = 0; i < pcm.length; i += 960) out.push(enc.encode(pcm.subarray(i, i + 960)).slice());
  enc.close();
  return out;
}

async function pagesOf(blob: Blob): Promise<ReturnType<typeof readOggPage>[]> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const pages = [];
  for (let o = 0; o < bytes.length; ) {
    const p = readOggPage(bytes, o);
    pages.push(p);
    o += p.length;
  }
  return pages;
}

describe('Ogg CRC (RFC 3533 §6)', () => {
  it('is the unreflected CRC-32 with polynomial 0x04c11db7 and initial value 0', () => {
    // The catalogue check value of this CRC (init 0, no reflection, no final xor) for "123456789".
    expect(oggCrc(new TextEncoder().encode('123456789'))).toBe(0x89a1897f);
    expect(oggCrc(new Uint8Array(0))).toBe(0);
  });
});

describe('writeOggOpus / readOggPage', () => {
  const packets = opusPackets();

  it('round-trips every packet through pages with valid checksums, headers first and EOS last', async () => {
    const pages = await pagesOf(writeOggOpus(packets, { frameSamples: 960 }));
    expect(pages[0].headerType & HEADER_TYPE_BOS).toBe(HEADER_TYPE_BOS);
    expect(pages[pages.length - 1].headerType & HEADER_TYPE_EOS).toBe(HEADER_TYPE_EOS);
    expect(isOpusHeader(pages[0].packets[0])).toBe(true);
    expect(isOpusHeader(pages[1].packets[0])).toBe(true);
    const audio = pages.slice(2).flatMap((p) => p.packets);
    expect(audio.length).toBe(packets.length);
    audio.forEach((p, i) => expect(p).toEqual(packets[i]));
    // Granule: pre-skip plus every sample so far (RFC 7845 §4).
    expect(pages[pages.length - 1].granule).toBe(opusHeadPreSkip(pages[0].packets[0]) + packets.length * 960);
    expect(pages.map((p) => p.sequence)).toEqual(pages.map((_, i) => i));
  });

  it('keeps a given OpusHead', async () => {
    const head = opusHead(1, 3840, 44100);
    const pages = await pagesOf(writeOggOpus(packets.slice(0, 3), { frameSamples: 960, head }));
    expect(pages[0].packets[0]).toEqual(head);
  });

  it('laces packets of 255 bytes and more across segments', async () => {
    const big = [new Uint8Array(255).fill(1), new Uint8Array(600).fill(2), new Uint8Array(0)];
    const pages = await pagesOf(writeOggOpus(big, { frameSamples: 960 }));
    expect(pages[2].packets.map((p) => p.length)).toEqual([255, 600, 0]);
  });

  it('rejects a damaged page, a wrong capture pattern and a truncated page', async () => {
    const bytes = new Uint8Array(await writeOggOpus(packets.slice(0, 5), { frameSamples: 960 }).arrayBuffer());
    const damaged = bytes.slice();
    damaged[40] ^= 0xff;
    expect(() => readOggPage(damaged)).toThrow(/checksum/);
    const notOgg = bytes.slice();
    notOgg[0] = 0x41;
    expect(() => readOggPage(notOgg)).toThrow(OggError);
    expect(() => readOggPage(bytes.subarray(0, 30))).toThrow(/past the end/);
    expect(() => readOggPage(bytes.subarray(0, 10))).toThrow(/header bytes/);
  });

  it.skipIf(skipWithout('ffmpeg', hasFfmpeg))('writes a file ffmpeg decodes to the encoded level', async () => {
    const bytes = Buffer.from(await writeOggOpus(packets, { frameSamples: 960 }).arrayBuffer());
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-f', 'f32le', '-ac', '1', '-ar', '48000', 'pipe:1'], { input: bytes });
    expect(r.status, r.stderr?.toString()).toBe(0);
    const pcm = new Float32Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length / 4);
    // 2 s less the pre-skip; the level of a -12 dBFS sine is -15.05 dBFS RMS.
    expect(Math.abs(pcm.length - 2 * 48000)).toBeLessThan(960);
    expect(measureRmsDbfs(pcm, 4800, pcm.length - 4800)).toBeCloseTo(-15.05, 0);
  });
});
