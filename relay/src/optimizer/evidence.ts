/**
 * Whether a bucket says enough about a station's speech to act on. A bucket that does not
 * is held, with a reason for the log; nothing is decided from it. In this order:
 *
 * 1. **The row measures loudness.** A bucket stored before the relay measured gated loudness
 *    and true peak has neither; the optimizer decides from them and from nothing else.
 * 2. **The bucket covers enough audio: at least `minCoveredS` (1 s, 50 of a full bucket's
 *    250 frames).** A station's first bucket holds only what came after it started, its
 *    last only what came before it stopped: a station that starts 60 ms before a boundary
 *    has a first bucket of 3 frames, and those are its lead-in (noise, a breath, a click).
 *    Nothing in so little audio is the talker's level. 1 s is where the gated loudness has
 *    something to gate: BS.1770-4 blocks are 400 ms with a 100 ms hop, so 1 s of a bucket is
 *    at most 7 blocks, and under it 3 or fewer; and it is one fifth of a bucket, so a full
 *    bucket passes with room for a resync's gap.
 * 3. **The bucket holds at least `minActiveS` (1 s) of active speech** (`active_s`: its
 *    blocks that pass the absolute gate and the relative gate of the station's integrated
 *    loudness, 0.1 s each). A bucket of pauses, or of one word, is held: one syllable sets
 *    a 400 ms block, and a step of up to 12 dB should rest on more than two or three.
 * 4. **The frame levels spread by at least `minFrameSpreadDb` (10 dB)** (`pcm.rms_dbfs`
 *    max − min over the bucket's 20 ms frames). Speech alternates vowels, consonants and
 *    gaps: its 20 ms frames spread by 25 dB or more in any second of it (49 dB for espeak-ng
 *    speech 60 dB over its noise floor). A steady noise floor or hum spreads by 2-4 dB
 *    (white noise: 1.5-2.1 dB). Rule 3 cannot tell them apart at a station's start: while
 *    the station has heard only its noise floor, that floor *is* its integrated loudness,
 *    so every block of it passes the relative gate. Without this rule a station that starts
 *    with 1.5 s of room noise before a boundary has a first bucket that passes rules 2 and 3
 *    (1.5 s, 1.2 s "active"), and its noise would be raised to the target.
 * 5. **Decisions only: the bucket is measured under one set of knobs.** A bucket whose
 *    `config_version` differs from the station's previous bucket carries a knob change
 *    from its first sample, but its first three 400 ms blocks started in the previous bucket
 *    and were measured partly under the old knobs. It verifies the change (verify.ts) and
 *    is not decided on: after a 12 dB cut on a hot talker, those three blocks read the
 *    bucket's gated loudness 1.5 LU too loud (measured: -21.6 LUFS against -23.2 LUFS for
 *    the same bucket's audio alone), and a decision on it cut another 1.4 dB too many. A
 *    change therefore takes three buckets: the one in progress, the one that carries it,
 *    and the first one measured wholly under it.
 *
 * Rules 3 and 4 read the PRE tap, the talker before the chain: whether there is speech is
 * the source's property, and POST's `active_s` gates against POST's integrated loudness
 * since the station started, which after a 12 dB cut is still the loudness of the hot
 * minutes before it, so POST's speech would read as pauses (measured: 1.0 s of 4.3 s).
 *
 * Pure: no I/O, no clock.
 */
import type { Analysis } from './analysis.ts';
import type { Targets } from './targets.ts';

export type EvidenceCode = 'no_loudness' | 'short_bucket' | 'little_speech' | 'steady_signal' | 'knobs_changed';

export interface EvidenceHold {
  code: EvidenceCode;
  reason: string;
}

const s = (seconds: number): string => `${seconds.toFixed(2)} s`;

/** Rules 1-4: null when the bucket holds speech enough to measure on; otherwise why not. */
export function speechEvidence(a: Analysis, t: Targets): EvidenceHold | null {
  const { pre, post } = a;
  if (!post.measured || !pre.measured) {
    return { code: 'no_loudness', reason: 'the bucket row has no gated loudness or true peak (stored before the relay measured them): nothing to decide from' };
  }
  if (post.coveredS < t.minCoveredS) {
    return {
      code: 'short_bucket',
      reason: `the bucket holds ${s(post.coveredS)} of the station's audio (${post.frames} frames of 20 ms), under the ${s(t.minCoveredS)} needed to judge a level: a station's first or last bucket`,
    };
  }
  if (pre.activeS < t.minActiveS) {
    return {
      code: 'little_speech',
      reason: `${s(pre.activeS)} of active speech in the bucket (gated 400 ms blocks at PRE), under the ${s(t.minActiveS)} needed`,
    };
  }
  const spread = pre.loudestFrameDbfs - pre.quietestFrameDbfs;
  if (spread < t.minFrameSpreadDb) {
    return {
      code: 'steady_signal',
      reason: `the 20 ms frame levels spread by ${spread.toFixed(1)} dB (${pre.quietestFrameDbfs.toFixed(1)} to ${pre.loudestFrameDbfs.toFixed(1)} dBFS at PRE), under the ${t.minFrameSpreadDb.toFixed(1)} dB of speech: a steady noise floor, hum or tone`,
    };
  }
  return null;
}

/** Rules 1-5: null when a decision may be taken on the bucket; otherwise why not. */
export function decisionEvidence(a: Analysis, t: Targets): EvidenceHold | null {
  const speech = speechEvidence(a, t);
  if (speech !== null) return speech;
  if (a.previousConfigVersion !== null && a.previousConfigVersion !== a.configVersion) {
    return {
      code: 'knobs_changed',
      reason: `the bucket carries a knob change (config v${a.previousConfigVersion} → v${a.configVersion}): its first 400 ms blocks were measured partly under the old knobs, so the next bucket decides`,
    };
  }
  return null;
}
