/**
 * Concealment on its own, through the decode stage that drives it: the same Opus stream
 * with the same packets lost, played by libopus's packet loss concealment, by in-band FEC
 * from the next packet, and (for comparison) by pitch waveform substitution; and PCM's
 * waveform concealment. Quality is the signal-to-error ratio of the concealed stretches against
 * what was sent.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { speechLike, toInt16 } from '../audio/signals.ts';
import { createDecoder } from './codecs/decoder.ts';
import { OpusFrameEncoder } from './codecs/opus-encoder.ts';
import { CodecConcealment, concealsItself, WaveformConcealment, type Concealment } from './concealment.ts';
import { DecodeStage } from './decode-stage.ts';
import type { PacketView } from './packet-batch.ts';
import type { SampleSink } from './stage.ts';

const RATE = 48000;
const FRAME = 960;

/** Collects what the decode stage writes, and which samples were concealed. */
class Tape implements SampleSink {
  readonly samples: number[] = [];
  readonly concealed: boolean[] = [];
  write(src: Float32Array, length: number, _arrivalMs: number, concealed: boolean): void {
    for (let i = 0; i < length; i++) {
      this.samples.push(src[i]);
      this.concealed.push(concealed);
    }
  }
}

const packet = (seq: number, payload: Uint8Array, codec: number): PacketView => ({ stationId: 1, timestampMs: seq * 20, sequence: seq & 0xffff, codec, flags: 0, arrivalMs: seq * 20, payload, mediaMs: 0 });

function opusPackets(x: Float32Array, fecLossPercent?: number): { packets: Uint8Array[] } {
  const enc = new OpusFrameEncoder({ sampleRate: RATE, bitrate: 24000, inbandFecLossPercent: fecLossPercent });
  const pcm = toInt16(x);
  const packets: Uint8Array[] = [];
  for (let i = 0; i + FRAME <= pcm.length; i += FRAME) packets.push(enc.encode(pcm.subarray(i, i + FRAME)));
  enc.close();
  return { packets };
}

/** Plays `packets` with `lost` missing through a decode stage; the tape holds the output. */
function play(packets: Uint8Array[], lost: Set<number>, codec: 'opus' | 'pcm16', concealment: (d: ReturnType<typeof createDecoder>) => Concealment): Tape {
  const decoder = createDecoder(codec, RATE);
  const tape = new Tape();
  const stage = new DecodeStage(codec, decoder, concealment(decoder), tape, 5760, () => undefined);
  for (let i = 0; i < packets.length; i++) if (!lost.has(i)) stage.process(packet(i, packets[i], CODEC_IDS[codec]));
  decoder.close();
  return tape;
}

/**
 * Signal-to-error ratio, dB, of the concealed samples against what the decoder gives when
 * nothing is lost: how well concealment stands in for the packets, apart from coding noise.
 */
function concealedSnrDb(tape: Tape, reference: Tape): number {
  let signal = 0;
  let error = 0;
  for (let i = 0; i < tape.samples.length; i++) {
    if (!tape.concealed[i]) continue;
    const ref = reference.samples[i];
    signal += ref * ref;
    error += (tape.samples[i] - ref) ** 2;
  }
  return 10 * Math.log10(signal / error);
}

describe('Opus concealment', () => {
  const speech = speechLike(-20, 6, RATE, 11);
  // One packet in ten lost, never the first: 29 gaps of one packet.
  const lost = new Set(Array.from({ length: 29 }, (_, k) => 10 * (k + 1) + (k % 3)));

  it('uses the decoder\'s own concealment for Opus, and waveform substitution for PCM', () => {
    expect(concealsItself(createDecoder('opus', RATE))).toBe(true);
    expect(concealsItself(createDecoder('pcm16', RATE))).toBe(false);
  });

  it('fills each lost packet with exactly its duration, and counts it', () => {
    const { packets } = opusPackets(speech);
    let concealment: Concealment | null = null;
    const tape = play(packets, lost, 'opus', (d) => (concealment = new CodecConcealment(d as never, FRAME, 5760)));
    expect(tape.samples.length).toBe(packets.length * FRAME);
    expect(tape.concealed.filter(Boolean).length).toBe(lost.size * FRAME);
    expect((concealment as unknown as Concealment).framesConcealed).toBe(lost.size);
  });

  it('recovers lost packets from in-band FEC better than libopus PLC or pitch waveform substitution', () => {
    const codec = (d: ReturnType<typeof createDecoder>): Concealment => (concealsItself(d) ? new CodecConcealment(d, FRAME, 5760) : new WaveformConcealment(FRAME, RATE));
    const plain = opusPackets(speech).packets;
    const withFec = opusPackets(speech, 20).packets;
    const plc = concealedSnrDb(play(plain, lost, 'opus', codec), play(plain, new Set(), 'opus', codec));
    const waveform = concealedSnrDb(play(plain, lost, 'opus', () => new WaveformConcealment(FRAME, RATE)), play(plain, new Set(), 'opus', codec));
    const fec = concealedSnrDb(play(withFec, lost, 'opus', codec), play(withFec, new Set(), 'opus', codec));
    console.log(`concealed speech against the loss-free decode: FEC ${fec.toFixed(1)} dB, libopus PLC ${plc.toFixed(1)} dB, pitch waveform substitution ${waveform.toFixed(1)} dB`);
    // Measured: FEC 14.8 dB; libopus PLC 6.2 dB and pitch waveform substitution 6.5 dB, about level.
    expect(fec).toBeGreaterThan(Math.max(plc, waveform) + 5);
    expect(plc).toBeGreaterThan(3);
    expect(waveform).toBeGreaterThan(3);
  });
});

describe('PCM concealment', () => {
  it('continues the signal across a gap, fading from 10 ms of loss, and cross-fades back into the next packet', () => {
    const frames = Array.from({ length: 20 }, (_, i) => new Uint8Array(new Int16Array(FRAME).fill(1000 + i).buffer));
    const decoder = createDecoder('pcm16', RATE);
    const tape = new Tape();
    const c = new WaveformConcealment(FRAME, RATE);
    const stage = new DecodeStage('pcm16', decoder, c, tape, 5760, () => undefined);
    for (let i = 0; i < 20; i++) if (i !== 7 && i !== 8) stage.process(packet(i, frames[i], CODEC_IDS.pcm16));
    expect(tape.samples.length).toBe(20 * FRAME);
    expect(tape.concealed.filter(Boolean).length).toBe(2 * FRAME);
    const at = (sample: number): number => Math.round(tape.samples[sample] * 32768);
    const ms = RATE / 1000;
    // Full level for 10 ms of loss, then 20 % less per 10 ms: 0.8 at 20 ms, 0.6 at 30 ms.
    expect([at(7 * FRAME), at(7 * FRAME + 10 * ms), at(8 * FRAME), at(8 * FRAME + 10 * ms)]).toEqual([1006, 1006, Math.round(1006 * 0.8), Math.round(1006 * 0.6)]);
    // The first good packet starts from the concealment's level (0.4 at 40 ms) and reaches its own
    // after the recovery ramp (4 ms per 10 ms of loss: 16 ms), never overshooting.
    const ramp = 16 * ms;
    expect(Math.abs(at(9 * FRAME) - 1006 * 0.4)).toBeLessThan(5);
    for (let i = 1; i < ramp; i++) expect(at(9 * FRAME + i)).toBeGreaterThanOrEqual(at(9 * FRAME + i - 1));
    expect(at(9 * FRAME + ramp)).toBe(1009);
    expect(c.framesConcealed).toBe(2);
    decoder.close();
  });
});
