import { describe, expect, it } from 'vitest';
import { MODE, PlayoutBuffer, PUSH, type PlayoutBufferOptions } from './playout-buffer.ts';

const RATE = 48000;
const FRAME = 960;
const QUANTUM = 128;

/** Frame `seq`: a ramp seq + k/10000, so every output sample says which frame and sample it came from. */
function frame(seq: number): Float32Array {
  const x = new Float32Array(FRAME);
  for (let k = 0; k < FRAME; k++) x[k] = seq + k / 10000;
  return x;
}

/** A seeded uniform [0, 1) generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const make = (opts: Partial<PlayoutBufferOptions> = {}): PlayoutBuffer => new PlayoutBuffer({ sampleRate: RATE, frameSamples: FRAME, ...opts });

/**
 * Runs the buffer as the worklet does: before each 128-sample quantum, every frame whose
 * arrival time (in output samples) has come is pushed. Returns everything pulled.
 */
function run(b: PlayoutBuffer, arrivals: { seq: number; at: number }[], totalSamples: number): Float32Array {
  const out = new Float32Array(totalSamples);
  const q = new Float32Array(QUANTUM);
  const pending = [...arrivals].sort((a, z) => a.at - z.at);
  let next = 0;
  for (let t = 0; t < totalSamples; t += QUANTUM) {
    while (next < pending.length && pending[next].at <= t) {
      const a = pending[next++];
      b.push(a.seq, a.seq * 20, (a.at / RATE) * 1000, frame(a.seq), FRAME);
    }
    b.pull(q, QUANTUM);
    out.set(q.subarray(0, Math.min(QUANTUM, totalSamples - t)), t);
  }
  return out;
}

/** Arrivals of frames `from..to` (inclusive), one per 20 ms starting at sample `start`, each delayed by `delay(seq)` samples. */
function steady(from: number, to: number, start = 0, delay: (seq: number) => number = () => 0): { seq: number; at: number }[] {
  const out = [];
  for (let s = from; s <= to; s++) out.push({ seq: s, at: start + (s - from) * FRAME + delay(s) });
  return out;
}

/** The frame numbers of out[] read back from the ramps (NaN for samples that are not a whole frame's sample). */
function frameAt(out: Float32Array, i: number): number {
  return Math.floor(out[i] + 1e-6);
}

describe('PlayoutBuffer (seed 004 §5)', () => {
  it('stays silent until the target is queued, then plays every frame in order, sample-exact', () => {
    const b = make();
    const out = run(b, steady(100, 199, 0), 100 * FRAME);
    const start = b.firstAudioSample;
    expect(start).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < start; i++) expect(out[i]).toBe(0);
    // From the first audio on: frame 100 sample 0, 1, ... then 101, ..., the very first
    // samples faded in from silence over the 64-sample crossfade.
    expect(Math.abs(out[start])).toBeLessThan(100 / 32);
    for (let n = 64; n < 90 * FRAME; n++) {
      const seq = 100 + Math.floor(n / FRAME);
      expect(out[start + n]).toBeCloseTo(seq + (n % FRAME) / 10000, 4);
    }
    expect(b.concealedFrames).toBe(0);
    expect(b.lateFrames).toBe(0);
    expect(b.underruns).toBe(0);
    expect(b.skippedFrames).toBe(0);
    // 20 ms target: started with the quantum that saw the second frame (at sample 960).
    expect(start).toBe(1024);
  });

  it('plays each frame the target delay after it arrived: the queue stays between target and target + one frame', () => {
    const b = make();
    const q = new Float32Array(QUANTUM);
    let lo = Infinity;
    let hi = 0;
    let seq = 0;
    for (let t = 0; t < 200 * FRAME; t += QUANTUM) {
      // Frames arrive every 20 ms at a phase that is not a multiple of the quantum.
      while (seq * FRAME + 300 <= t) {
        b.push(seq, seq * 20, ((seq * FRAME + 300) / RATE) * 1000, frame(seq), FRAME);
        seq++;
      }
      b.pull(q, QUANTUM);
      if (t > 20 * FRAME) {
        lo = Math.min(lo, b.bufferedMs);
        hi = Math.max(hi, b.bufferedMs);
      }
    }
    // One quantum (2.7 ms) of slack either way.
    expect(b.targetMs).toBeCloseTo(20, 6);
    expect(lo).toBeGreaterThanOrEqual(20 - 2.7);
    expect(hi).toBeLessThanOrEqual(40 + 2.7);
    expect(b.concealedFrames + b.skippedFrames + b.underruns).toBe(0);
  });

  it('puts reordered frames back in sequence order', () => {
    const b = make();
    const arrivals = steady(0, 59);
    // 21 arrives 5 ms before 20, 41 before 40.
    for (const a of arrivals) if (a.seq === 20 || a.seq === 40) a.at += 240;
    for (const a of arrivals) if (a.seq === 21 || a.seq === 41) a.at -= 720;
    const out = run(b, arrivals, 60 * FRAME);
    const seen: number[] = [];
    for (let i = b.firstAudioSample; i < out.length; i += FRAME) seen.push(frameAt(out, i + FRAME / 2));
    for (let k = 1; k < seen.length; k++) {
      // In order, allowing a repeated (concealed) frame number but never going backwards.
      expect(seen[k]).toBeGreaterThanOrEqual(seen[k - 1]);
    }
    expect(b.lateFrames).toBe(0);
  });

  it('conceals a lost frame by repeating the last one at 0.9, and drops it as late if it turns up after all', () => {
    const b = make();
    const arrivals = steady(0, 49).filter((a) => a.seq !== 20);
    const out = run(b, arrivals, 50 * FRAME);
    expect(b.concealedFrames).toBe(1);
    // Frame 20's place: frame 19 again at 0.9.
    const at = b.firstAudioSample + 20 * FRAME;
    for (let k = 0; k < FRAME; k += 97) expect(out[at + k]).toBeCloseTo((19 + k / 10000) * 0.9, 4);
    // Frame 21 follows, crossfaded in over 64 samples from the concealment's continuation.
    expect(out[at + FRAME + 100]).toBeCloseTo(21 + 100 / 10000, 4);
    expect(b.push(20, 400, 2000, frame(20), FRAME)).toBe(PUSH.late);
    expect(b.lateFrames).toBe(1);
  });

  it('waits for a late frame while concealing, then counts an underrun and goes silent; recovers by itself', () => {
    const b = make({ underrunFrames: 3 });
    // 0-29 on time, then nothing for 300 ms, then 30-79 on time again.
    const arrivals = [...steady(0, 29), ...steady(30, 79, 30 * FRAME + 15 * FRAME)];
    const out = run(b, arrivals, 90 * FRAME);
    expect(b.underruns).toBe(1);
    // Three frames concealed while waiting (fading), then silence.
    expect(b.concealedFrames).toBe(3);
    const gapStart = b.firstAudioSample + 30 * FRAME;
    expect(Math.abs(out[gapStart + 10])).toBeGreaterThan(0);
    const silentFrom = gapStart + 3 * FRAME;
    for (let k = 0; k < 5 * FRAME; k++) expect(out[silentFrom + k]).toBe(0);
    // Playback came back with frame 30 (nothing was thrown away) and ran to the end.
    expect(b.lateFrames).toBe(0);
    expect(b.mode).toBe(MODE.playing);
    let sawThirty = false;
    for (let i = silentFrom; i < out.length; i += 100) if (frameAt(out, i) === 30) sawThirty = true;
    expect(sawThirty).toBe(true);
    // 30 before the gap and all but the last few of the 50 after it.
    expect(b.playedFrames).toBeGreaterThan(60);
  });

  it('fades in from silence after an underrun (no step at the restart)', () => {
    const b = make({ crossfadeSamples: 64 });
    const arrivals = [...steady(0, 9), ...steady(10, 40, 10 * FRAME + 20 * FRAME)];
    const out = run(b, arrivals, 45 * FRAME);
    // Find where frame 10 starts after the silence.
    let i = b.firstAudioSample + 10 * FRAME;
    while (i < out.length && out.subarray(i, i + 200).some((v) => v !== 0)) i++;
    while (i < out.length && out[i] === 0) i++;
    expect(i).toBeLessThan(out.length);
    // Its first samples rise towards 10 over the crossfade rather than jumping to it.
    expect(out[i]).toBeLessThan(10 * 0.05);
    expect(out[i + 70]).toBeCloseTo(10 + 70 / 10000, 3);
  });

  it('drops frames to bring a backlog down to the target, never below it', () => {
    const b = make();
    // 15 frames (300 ms) arrive at once, then one every 20 ms.
    const burst = Array.from({ length: 15 }, (_, s) => ({ seq: s, at: 0 }));
    const out = run(b, [...burst, ...steady(15, 400, 20)], 380 * FRAME);
    expect(b.skippedFrames).toBeGreaterThan(8);
    expect(b.underruns).toBe(0);
    expect(b.concealedFrames).toBe(0);
    // Settled within a frame or two of the 20 ms target.
    expect(b.bufferedMs).toBeLessThanOrEqual(b.targetMs + 2 * b.frameMs);
    expect(out.length).toBe(380 * FRAME);
  });

  it('starts at the live edge: of frames queued before it starts, the oldest go unheard, down to a frame over the target', () => {
    // Five frames that arrived on time over the last 100 ms reach the buffer at once (held
    // while the decoder loaded), then one every 20 ms: no jitter, a 20 ms target.
    const b = make();
    const q = new Float32Array(QUANTUM);
    for (let s = 0; s < 5; s++) b.push(s, s * 20, s * 20 - 80, frame(s), FRAME);
    b.pull(q, QUANTUM);
    expect(b.targetMs).toBeCloseTo(20, 3);
    // 100 ms queued against a 20 ms target: frames 0-2 go, 3 and 4 (40 ms) are kept.
    expect(b.skippedFrames).toBe(3);
    expect(frameAt(q, 100)).toBe(3);
    expect(b.bufferedMs).toBeLessThanOrEqual(b.targetMs + b.frameMs);
    expect(b.bufferedMs).toBeGreaterThan(b.targetMs);
    // Nothing is concealed or lost after it: the next frames follow on.
    let next = 5;
    for (let t = QUANTUM; t < 100 * FRAME; t += QUANTUM) {
      while ((next - 5) * FRAME + FRAME <= t) {
        b.push(next, next * 20, ((next - 5) * FRAME + FRAME) / 48, frame(next), FRAME);
        next++;
      }
      b.pull(q, QUANTUM);
    }
    expect(b.concealedFrames + b.underruns + b.lateFrames).toBe(0);
    expect(b.skippedFrames).toBe(3);
  });

  it('drops a backlog of on-time frames faster: 280 ms over the target is gone within 2.5 s', () => {
    // 15 frames that arrived on time over the last 300 ms but reach the buffer at once (the
    // decoder was still loading): no jitter, so the target stays at 20 ms.
    const b = make();
    const q = new Float32Array(QUANTUM);
    for (let s = 0; s < 15; s++) b.push(s, s * 20, s * 20 - 280, frame(s), FRAME);
    let next = 15;
    for (let t = 0; t < 125 * FRAME; t += QUANTUM) {
      while ((next - 15) * FRAME + 960 <= t) {
        b.push(next, next * 20, ((next - 15) * FRAME + 960) / 48, frame(next), FRAME);
        next++;
      }
      b.pull(q, QUANTUM);
    }
    expect(b.targetMs).toBeCloseTo(20, 3);
    expect(b.skippedFrames).toBeGreaterThanOrEqual(12);
    expect(b.bufferedMs).toBeLessThanOrEqual(b.targetMs + 2 * b.frameMs);
    expect(b.underruns + b.concealedFrames).toBe(0);
  });

  it('adapts the target to jitter: few concealments once it has learnt it', () => {
    const rnd = random(3);
    const b = make();
    // Up to 60 ms of random extra delay per packet.
    const arrivals = steady(0, 1499, 0, () => Math.floor(rnd() * 0.06 * RATE));
    run(b, arrivals, 1500 * FRAME);
    expect(b.targetMs).toBeGreaterThan(50);
    expect(b.targetMs).toBeLessThanOrEqual(200);
    expect(b.jitterMs).toBeGreaterThan(10);
    // Concealment happens while it learns; afterwards it is rare.
    expect(b.concealedFrames / 1500).toBeLessThan(0.03);
    expect(b.lateFrames / 1500).toBeLessThan(0.02);
  });

  it('holds at most its capacity, dropping the oldest frames and counting them', () => {
    const b = make({ capacityFrames: 16 });
    for (let s = 0; s < 40; s++) b.push(s, s * 20, 0, frame(s), FRAME);
    expect(b.overflowFrames).toBe(40 - 15);
    expect(b.bufferedMs).toBeLessThanOrEqual(16 * 20);
  });

  it('goes on from the newest frame when the numbering jumps far ahead, without concealing the gap', () => {
    const b = make();
    const q = new Float32Array(QUANTUM);
    for (let s = 0; s < 10; s++) b.push(s, s * 20, s * 20, frame(s), FRAME);
    for (let k = 0; k < 4; k++) b.pull(q, QUANTUM);
    // 10 s later (a resume at the live edge the worklet was not told of).
    expect(b.push(510, 10_200, 10_200, frame(510), FRAME)).toBe(PUSH.overflow);
    b.push(511, 10_220, 10_220, frame(511), FRAME);
    const out = new Float32Array(FRAME * 2);
    for (let i = 0; i < out.length; i += QUANTUM) {
      b.pull(q, QUANTUM);
      out.set(q.subarray(0, Math.min(QUANTUM, out.length - i)), i);
    }
    expect(b.concealedFrames).toBe(0);
    // The rest of frame 0, then 510 straight away.
    expect(Array.from(out).some((v) => Math.floor(v + 1e-6) === 510)).toBe(true);
  });

  it('ignores duplicates and starts over when the numbering restarts far behind', () => {
    const b = make();
    const q = new Float32Array(QUANTUM);
    for (let s = 1000; s < 1010; s++) b.push(s, s * 20, s * 20, frame(s), FRAME);
    expect(b.push(1005, 0, 0, frame(1005), FRAME)).toBe(PUSH.duplicate);
    for (let k = 0; k < 20; k++) b.pull(q, QUANTUM);
    expect(b.push(3, 60, 300, frame(3), FRAME)).toBe(PUSH.restart);
    expect(b.push(4, 80, 320, frame(4), FRAME)).toBe(PUSH.stored);
    expect(b.mode).toBe(MODE.buffering);
    b.pull(q, QUANTUM);
    // Frame 3 (faded in over the first 64 samples).
    expect(frameAt(q, 100)).toBe(3);
  });

  it('rejects a frame it cannot hold', () => {
    const b = make();
    expect(b.push(1, 0, 0, new Float32Array(FRAME * 4), FRAME * 4)).toBe(PUSH.invalid);
    expect(b.push(1.5, 0, 0, frame(1), FRAME)).toBe(PUSH.invalid);
    expect(() => make({ capacityFrames: 8 })).toThrow(RangeError);
  });

  it('reports what is queued, in ms, including the rest of the frame being played', () => {
    const b = make();
    const q = new Float32Array(QUANTUM);
    for (let s = 0; s < 5; s++) b.push(s, s * 20, 0, frame(s), FRAME);
    expect(b.bufferedMs).toBe(100);
    b.pull(q, QUANTUM);
    expect(b.bufferedSamples).toBe(5 * FRAME - QUANTUM);
    b.reset();
    expect(b.bufferedMs).toBe(0);
    expect(b.mode).toBe(MODE.idle);
  });
});
