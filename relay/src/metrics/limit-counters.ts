/**
 * How often each cap refused something and each timeout cut something, since start:
 * `/metrics` exports them as `tapwire_limit_rejections_total{limit="..."}`.
 */
export const LIMIT_NAMES = [
  /** `/ws/ingest` connections: in all (503), per address (429). */
  'ingest_connections',
  'ingest_connections_per_address',
  /** `/ws/telemetry` clients: in all (503), per address (429). */
  'telemetry_clients',
  'telemetry_connections_per_address',
  /** Live stations: on the relay, per client address, per trace (close 1013). */
  'stations',
  'stations_per_address',
  'stations_per_trace',
  /** Ingest sockets with no `start` in time (close 4408). */
  'start_timeout',
  /** Stations that sent no audio for the idle timeout (ended). */
  'station_idle',
  /** WebSockets cut for a missing pong. */
  'heartbeat_timeout',
  /** Upload chunks refused by a pending-bytes quota (413). */
  'upload_quota',
  /** `/ws/listen` sockets: in all (503), per address (429), per stream (close 1013). */
  'listeners',
  'listeners_per_address',
  'listeners_per_stream',
  /** Listeners closed for staying behind (close 4008). */
  'listener_too_slow',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export class LimitCounters {
  private readonly counts = new Map<LimitName, number>(LIMIT_NAMES.map((n) => [n, 0]));

  count(limit: LimitName): void {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
  }

  get(limit: LimitName): number {
    return this.counts.get(limit) ?? 0;
  }

  entries(): [LimitName, number][] {
    return [...this.counts];
  }
}
