/**
 * `GET /metrics`: the relay's own metrics in Prometheus text format (prom-client). Gauges
 * and counters read the components' counters at scrape time; latency histograms are fed as
 * the media workers and the bucket writer report.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import type { ListenMode } from '../../../protocol/listen.ts';
import type { ListenCounters } from '../listen/listen-counters.ts';
import { LATENCY_BIN_MS, LATENCY_BINS } from '../media/latency-histogram.ts';

export interface MetricSources {
  activeTraces(): number;
  liveStations(): number;
  telemetryClients(): number;
  ingest(): { frames: number; bytes: number; dropped: number; decodeErrors: number; protocolErrors: number };
  telemetry(): { sent: number; dropped: number; slowClosed: number };
  /** Refusals and timeouts per cap (metrics/limit-counters.ts). */
  limits(): [string, number][];
  /** Packets waiting in the stations' ingress queues: in all, and in the deepest one (seed 001). */
  queueDepth(): { total: number; max: number };
  /** Live listening (relay/src/listen/): listeners by mode, egress encoders running, counters. */
  listen(): { listeners: Readonly<Record<ListenMode, number>>; egressStreams: number; counters: ListenCounters };
}

export class RelayMetrics {
  readonly registry = new client.Registry();
  private readonly loopLag = monitorEventLoopDelay({ resolution: 20 });
  private loopLagOn = false;
  private readonly pipelineLatency: client.Histogram;
  private readonly bucketWrite: client.Histogram;
  private readonly listenFirstByte: client.Histogram;
  private readonly listenLatency: client.Histogram<'mode'>;

  constructor(sources: MetricSources) {
    const register = [this.registry];
    // The process's own figures, read at scrape time. Not prom-client's default metrics:
    // their event-loop lag histogram runs a timer that wakes an idle relay every second (on
    // a virtual machine each wake-up alone costs a few milliseconds of CPU). The event-loop
    // lag is tapwire_event_loop_lag_* below, sampled only while the relay has connections.
    this.processMetrics(register);
    for (const [name, help, read] of [
      ['tapwire_event_loop_lag_p99_seconds', 'Event-loop lag, 99th percentile since the last scrape (sampled every 20 ms while the relay has connections).', () => this.loopLag.percentile(99)],
      ['tapwire_event_loop_lag_max_seconds', 'Event-loop lag, the longest since the last scrape.', () => this.loopLag.max],
    ] as const) {
      new client.Gauge({
        name,
        help,
        registers: register,
        collect() {
          this.set(read() / 1e9);
        },
      });
    }
    const gauge = (name: string, help: string, read: () => number): void => scrapedGauge(register, name, help, read);
    const counter = (name: string, help: string, read: () => number): void => scrapedCounter(register, name, help, read);
    gauge('tapwire_active_traces', 'Traces with at least one live station.', () => sources.activeTraces());
    gauge('tapwire_live_stations', 'Stations streaming now.', () => sources.liveStations());
    new client.Gauge({
      name: 'tapwire_listeners',
      help: 'Listeners joined to a live stream (/ws/listen), by mode.',
      labelNames: ['mode'],
      registers: register,
      collect() {
        const { listeners } = sources.listen();
        for (const mode of ['mse', 'packets'] as const) this.set({ mode }, listeners[mode]);
      },
    });
    gauge('tapwire_telemetry_clients', 'Connected /ws/telemetry clients.', () => sources.telemetryClients());
    counter('tapwire_ingest_frames_total', 'Audio frames received on ingest.', () => sources.ingest().frames);
    counter('tapwire_ingest_bytes_total', 'Audio payload bytes received on ingest.', () => sources.ingest().bytes);
    counter('tapwire_ingest_frames_dropped_total', 'Frames dropped by full ingress queues (drop-oldest).', () => sources.ingest().dropped);
    counter('tapwire_ingest_decode_errors_total', 'Payloads that failed to decode.', () => sources.ingest().decodeErrors);
    counter('tapwire_ingest_protocol_errors_total', 'Frames or messages rejected before reaching a station.', () => sources.ingest().protocolErrors);
    counter('tapwire_telemetry_messages_sent_total', 'Telemetry messages handed to client sockets.', () => sources.telemetry().sent);
    counter('tapwire_telemetry_messages_dropped_total', 'Telemetry messages dropped for slow clients (newest wins).', () => sources.telemetry().dropped);
    counter('tapwire_telemetry_slow_clients_closed_total', 'Telemetry clients closed with 1013 for staying backed up.', () => sources.telemetry().slowClosed);
    gauge('tapwire_ingress_queue_depth', 'Packets waiting in the live stations\' ingress queues, in all (seed 001).', () => sources.queueDepth().total);
    gauge('tapwire_ingress_queue_depth_max', 'Packets waiting in the deepest ingress queue (capacity TAPWIRE_INGRESS_QUEUE_FRAMES).', () => sources.queueDepth().max);
    gauge('tapwire_listen_egress_streams', 'Egress Opus encoders running for listeners, one per station and tap (a stopped one lingers a few seconds).', () => sources.listen().egressStreams);
    counter('tapwire_listener_bytes_sent_total', 'Bytes of audio frames written to listener sockets (init segments, clusters, framed packets; WebSocket framing included).', () => sources.listen().counters.bytesSent);
    counter('tapwire_listener_skips_total', 'Clusters or packets not sent to a listener that was behind (its unsent bytes over TAPWIRE_LISTEN_BACKED_UP_BYTES).', () => sources.listen().counters.skips);
    counter('tapwire_listener_client_stalls_total', 'Playback stalls (underruns) the listeners\' players reported (client_metrics).', () => sources.listen().counters.clientStalls);
    counter('tapwire_listener_client_decode_errors_total', 'Decode errors the listeners\' players reported (client_metrics).', () => sources.listen().counters.clientDecodeErrors);
    new client.Counter({
      name: 'tapwire_listener_joins_total',
      help: 'Listeners that joined a live stream, by mode.',
      labelNames: ['mode'],
      registers: register,
      collect() {
        this.reset();
        const { joins } = sources.listen().counters;
        for (const mode of ['mse', 'packets'] as const) this.inc({ mode }, joins[mode]);
      },
    });
    new client.Counter({
      name: 'tapwire_listener_disconnects_total',
      help: 'Listen sockets closed, by reason (client_closed, stream_ended, too_slow, not_found, bad_query, ...).',
      labelNames: ['reason'],
      registers: register,
      collect() {
        this.reset();
        for (const [reason, n] of sources.listen().counters.disconnects) this.inc({ reason }, n);
      },
    });
    new client.Counter({
      name: 'tapwire_limit_rejections_total',
      help: 'Connections, stations and uploads refused by a cap, and sockets or stations ended by a timeout, per limit.',
      labelNames: ['limit'],
      registers: register,
      collect() {
        this.reset();
        for (const [limit, n] of sources.limits()) this.inc({ limit }, n);
      },
    });
    this.pipelineLatency = new client.Histogram({
      name: 'tapwire_pipeline_latency_seconds',
      help: 'Per 20 ms frame: from its release by the station clock (after the jitter buffer) to the POST meters in a media worker.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
      registers: register,
    });
    this.bucketWrite = new client.Histogram({
      name: 'tapwire_bucket_write_seconds',
      help: 'Writing one complete bucket: its PRE and POST segments, then its row.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: register,
    });
    this.listenFirstByte = new client.Histogram({
      name: 'tapwire_listener_time_to_first_byte_seconds',
      help: 'A listener: from the completed upgrade to its first binary message (mse: the init segment).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: register,
    });
    this.listenLatency = new client.Histogram({
      name: 'tapwire_listen_ingest_to_send_seconds',
      help: 'Per fan-out: from the arrival on the relay of the ingest packet behind the oldest audio sent (a packet, or a cluster\'s first) to the bytes handed to the listeners\' sockets, by mode.',
      labelNames: ['mode'],
      buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: register,
    });
  }

  /** CPU, memory, heap, open files and start time of the process, prefixed tapwire_process_. */
  private processMetrics(register: client.Registry[]): void {
    const gauge = (name: string, help: string, read: () => number): void => scrapedGauge(register, `tapwire_process_${name}`, help, read);
    const counter = (name: string, help: string, read: () => number): void => scrapedCounter(register, `tapwire_process_${name}`, help, read);
    counter('cpu_user_seconds_total', 'User CPU time of the relay (every thread), seconds.', () => process.cpuUsage().user / 1e6);
    counter('cpu_system_seconds_total', 'System CPU time of the relay (every thread), seconds.', () => process.cpuUsage().system / 1e6);
    counter('cpu_seconds_total', 'User and system CPU time of the relay (every thread), seconds.', () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    });
    gauge('resident_memory_bytes', 'Resident memory size, bytes.', () => process.memoryUsage.rss());
    gauge('start_time_seconds', 'Start time of the process since the Unix epoch, seconds.', () => Math.round(performance.timeOrigin / 1000));
    gauge('nodejs_heap_size_total_bytes', 'JavaScript heap of the main thread, bytes.', () => process.memoryUsage().heapTotal);
    gauge('nodejs_heap_size_used_bytes', 'JavaScript heap of the main thread in use, bytes.', () => process.memoryUsage().heapUsed);
    gauge('nodejs_external_memory_bytes', 'Memory outside the main thread\'s heap held by its objects (buffers), bytes.', () => process.memoryUsage().external);
    gauge('open_fds', 'Open file descriptors (sockets, segment files, the database).', () => {
      try {
        return readdirSync('/proc/self/fd').length;
      } catch {
        return 0; // not Linux: no /proc
      }
    });
  }

  /** A media worker's latency bins since its last report (0.1 ms bins, see latency-histogram.ts). */
  observeLatencyBins(bins: Uint32Array): void {
    for (let i = 0; i < Math.min(bins.length, LATENCY_BINS + 1); i++) {
      const n = bins[i];
      if (n === 0) continue;
      const seconds = ((i + 0.5) * LATENCY_BIN_MS) / 1000;
      for (let k = 0; k < n; k++) this.pipelineLatency.observe(seconds);
    }
  }

  observeBucketWrite(ms: number): void {
    this.bucketWrite.observe(ms / 1000);
  }

  observeListenFirstByte(seconds: number): void {
    this.listenFirstByte.observe(seconds);
  }

  observeListenLatency(mode: ListenMode, seconds: number): void {
    this.listenLatency.observe({ mode }, seconds);
  }

  /** Samples event-loop lag only while the relay has work: call with the number of open connections. */
  watchEventLoop(connections: number): void {
    if (connections > 0 && !this.loopLagOn) this.loopLag.enable();
    else if (connections === 0 && this.loopLagOn) this.loopLag.disable();
    this.loopLagOn = connections > 0;
  }

  async text(): Promise<string> {
    const text = await this.registry.metrics();
    this.loopLag.reset();
    return text;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A gauge read at scrape time. */
function scrapedGauge(registers: client.Registry[], name: string, help: string, read: () => number): void {
  new client.Gauge({ name, help, registers, collect() { this.set(read()); } });
}

/** A counter whose total lives elsewhere: set at scrape time. */
function scrapedCounter(registers: client.Registry[], name: string, help: string, read: () => number): void {
  new client.Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
}
