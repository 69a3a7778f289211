/**
 * The `client_metrics` message (protocol/listen.ts ClientMetricsMessage) from what a player
 * measures: the fields the schema knows, rounded, within its ranges (a message the relay
 * would refuse is worth nothing), the low-latency ones only in low-latency mode.
 */
import type { ClientMetricsMessage } from '../../../protocol/listen.ts';
import type { PlayerFigures } from './player';

/** How often a listener reports, ms (and at every stall). */
export const CLIENT_METRICS_INTERVAL_MS = 5000;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function buildClientMetrics(f: PlayerFigures): ClientMetricsMessage {
  const m: ClientMetricsMessage = {
    type: 'client_metrics',
    buffer_s: round(clamp(f.bufferedAheadS, 0, 3600), 3),
    stalls: f.stalls,
    decode_errors: f.decodeErrors,
  };
  if (f.latencyS !== null && Number.isFinite(f.latencyS)) m.latency_s = round(clamp(f.latencyS, 0, 3600), 3);
  if (f.timeToFirstAudioMs !== null) m.time_to_first_audio_ms = Math.round(clamp(f.timeToFirstAudioMs, 0, 3_600_000));
  if (f.playout !== null) {
    m.concealed_frames = f.playout.concealedFrames;
    m.jitter_ms = round(clamp(f.playout.jitterMs, 0, 60_000), 2);
    m.target_delay_ms = round(clamp(f.playout.targetMs, 0, 60_000), 2);
  }
  return m;
}
