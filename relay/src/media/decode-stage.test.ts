/**
 * The decode stage on its own: what counts as a loss (concealed), as reordering (dropped,
 * never decoded), as a discontinuity (neither), and what a bad packet costs.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { createDecoder } from './codecs/decoder.ts';
import { WaveformConcealment } from './concealment.ts';
import { DecodeStage, MAX_CONCEALED_PACKETS } from './decode-stage.ts';
import type { PacketView } from './packet-batch.ts';
import type { SampleSink } from './stage.ts';

const FRAME = 160; // 20 ms at 8 kHz

class Tape implements SampleSink {
  readonly writes: { value: number; length: number; concealed: boolean }[] = [];
  write(src: Float32Array, length: number, _arrival: number, concealed: boolean): void {
    this.writes.push({ value: Math.round(src[0] * 32768), length, concealed });
  }
}

const pcm = (seq: number, value = 1000 + seq, codec: number = CODEC_IDS.pcm16): PacketView => ({
  stationId: 1, timestampMs: seq * 20, sequence: seq & 0xffff, codec, flags: 0, arrivalMs: seq * 20, payload: new Uint8Array(new Int16Array(FRAME).fill(value).buffer), mediaMs: 0,
});

function stage() {
  const tape = new Tape();
  const errors: string[] = [];
  const s = new DecodeStage('pcm16', createDecoder('pcm16', 8000), new WaveformConcealment(FRAME, 8000), tape, 960, (code) => errors.push(code));
  return { s, tape, errors };
}

describe('DecodeStage', () => {
  it('conceals a gap before the packet that revealed it, one packet duration per lost packet', () => {
    const { s, tape } = stage();
    for (const n of [0, 1, 4, 5]) s.process(pcm(n));
    expect(tape.writes.map((w) => [w.concealed, w.length])).toEqual([[false, 160], [false, 160], [true, 160], [true, 160], [false, 160], [false, 160]]);
  });

  it('drops duplicates and packets older than audio already played, without decoding them', () => {
    const { s, tape } = stage();
    for (const n of [0, 1, 2, 1, 2, 0, 3]) s.process(pcm(n));
    expect(tape.writes.map((w) => w.value)).toEqual([1000, 1001, 1002, 1003]);
    expect(s.counters.frames_out_of_order).toBe(3);
  });

  it('treats a gap longer than the limit, or one the clock made, as a discontinuity, not a loss', () => {
    const { s, tape } = stage();
    s.process(pcm(0));
    s.process(pcm(2 + MAX_CONCEALED_PACKETS));
    s.discontinuity();
    s.process(pcm(20 + MAX_CONCEALED_PACKETS));
    expect(tape.writes.every((w) => !w.concealed)).toBe(true);
  });

  it('counts a bad packet or the wrong codec as a decode error; the slot is concealed once, by the next packet', () => {
    const { s, tape, errors } = stage();
    s.process(pcm(0));
    s.process(pcm(1, 0, CODEC_IDS.pcmu));
    s.process({ ...pcm(2), payload: new Uint8Array(3) }); // odd length: not whole samples
    s.process(pcm(3));
    expect(errors).toEqual(['codec_mismatch', 'bad_payload_length']);
    expect(s.counters.decode_errors).toBe(2);
    expect(tape.writes.map((w) => w.concealed)).toEqual([false, true, true, false]);
  });

  it('follows sequence numbers across the 16-bit wrap', () => {
    const { s, tape } = stage();
    for (const n of [65534, 65535, 0, 1]) s.process(pcm(n));
    expect(tape.writes.every((w) => !w.concealed)).toBe(true);
    expect(s.counters.frames_out_of_order).toBe(0);
  });
});
