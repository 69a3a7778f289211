/**
 * The listen side's counters since start, kept as plain numbers by the code that counts
 * (nothing on the hot path but an addition) and read by `/metrics` at scrape time.
 */
import type { ListenMode } from '../../../protocol/listen.ts';

/** Why a listen socket closed: a listener's own reasons, and the refusals after the upgrade. */
export type ListenDisconnectReason =
  | 'client_closed'
  | 'stream_ended'
  | 'relay_shutdown'
  | 'too_slow'
  | 'heartbeat_timeout'
  | 'message_too_big'
  | 'too_many_messages'
  | 'too_many_invalid'
  | 'bad_query'
  | 'not_found'
  | 'stream_full';

export interface ListenCounters {
  /** Audio bytes handed to listener sockets (init segments, clusters, framed packets). */
  bytesSent: number;
  /** Clusters or packets not sent to a listener that was behind. */
  skips: number;
  /** Listeners closed with 4008 for staying behind. */
  slowClosed: number;
  /** Underruns and decode errors the players reported (sums of the increases of their counters). */
  clientStalls: number;
  clientDecodeErrors: number;
  /** Listeners that joined a stream, by mode. */
  joins: Record<ListenMode, number>;
  /** Sockets closed, by reason. */
  disconnects: Map<ListenDisconnectReason, number>;
}

export function newListenCounters(): ListenCounters {
  return { bytesSent: 0, skips: 0, slowClosed: 0, clientStalls: 0, clientDecodeErrors: 0, joins: { mse: 0, packets: 0 }, disconnects: new Map() };
}

export function countDisconnect(counters: ListenCounters, reason: ListenDisconnectReason): void {
  counters.disconnects.set(reason, (counters.disconnects.get(reason) ?? 0) + 1);
}
