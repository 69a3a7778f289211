/**
 * The relay: wires the store, the segment store, the media worker pool, the live registry,
 * the listen service and the HTTP server together, and owns their lifecycle. `stop()` is the
 * SIGTERM path: listeners are told the relay is shutting down, every accepted packet is
 * processed and every bucket finalized and written.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { HealthInfo, RelayStats } from '../../protocol/api.ts';
import { RateLimits } from './api/rate-limits.ts';
import { ensureAdminToken } from './auth/admin-token.ts';
import { isLoopbackOnly } from './auth/authenticate.ts';
import { TokenStore } from './auth/token-store.ts';
import { BucketWriter } from './buckets/bucket-writer.ts';
import { validateConfig, type RelayConfig } from './config.ts';
import { CLOSE } from './errors.ts';
import { Heartbeat } from './http/heartbeat.ts';
import { buildServer, type ClientInfo, type Server } from './http/server.ts';
import { IngestConnection } from './ingest/ingest-connection.ts';
import { newIngestCounters, type IngestCounters } from './ingest/ingest-counters.ts';
import { registerListenRoute } from './listen/listen-route.ts';
import { ListenService } from './listen/listen-service.ts';
import { LiveRegistry, type ScheduleRequest, type ScheduleResult } from './live/live-registry.ts';
import { MediaPool } from './media/pool.ts';
import { RecordedBucketStore } from './store/recorded-bucket-store.ts';
import { SegmentStore } from './store/segment-store.ts';
import { Store } from './store/store.ts';
import { UploadStore } from './store/upload-store.ts';
import { TelemetryHub } from './telemetry/hub.ts';
import { LimitCounters } from './metrics/limit-counters.ts';
import { RelayMetrics } from './metrics/prometheus.ts';
import { LogThrottle } from './logging/log-throttle.ts';
import { transportQualityJson } from './media/transport-quality.ts';
import { RecordedRunner } from './uploads/recorded-runner.ts';
import { UploadService } from './uploads/upload-service.ts';
import { ExportSlots } from './api/export-slots.ts';
import { streamLogId } from './listen/listen-service.ts';
import { WebRtcService } from './webrtc/webrtc-service.ts';
import { registerWebRtcRoutes } from './webrtc/whip-route.ts';
import { registerRtpRoutes } from './api/rtp-routes.ts';
import { RtpSessions } from './rtp/rtp-sessions.ts';
import { registerCaRoutes } from './tls/ca-route.ts';
import { prepareTls, type RelayTls } from './tls/relay-tls.ts';

const VERSION = '0.1.0';
/** Time for a media worker to notice a bucket's completion and post its record. */
const COMPLETION_MARGIN_MS = 100;

/** How long `stop()` lets HTTP requests in flight finish before it cuts their connections, ms. */
const STOP_GRACE_MS = 5000;

export class Relay {
  readonly store: Store;
  readonly segments: SegmentStore;
  readonly pool: MediaPool;
  readonly registry: LiveRegistry;
  readonly telemetry: TelemetryHub;
  readonly metrics: RelayMetrics;
  readonly writer: BucketWriter;
  readonly counters: IngestCounters = newIngestCounters();
  readonly tokens: TokenStore;
  /** Uploads of offline recordings, and the recorded runs on the media pool they start. */
  readonly uploads: UploadService;
  readonly recordedRuns: RecordedRunner;
  /** Live listening: `/ws/listen` sockets, and the egress streams they hang on. */
  readonly listen: ListenService;
  /** WHIP and WHEP sessions (`/whip`, `/whep`, docs/WEBRTC.md). */
  readonly webrtc: WebRtcService;
  /** Plain RTP/UDP ingest: sessions opened over HTTP, each a port pair feeding one station. */
  readonly rtp: RtpSessions;
  /** The all-scopes token of `<data dir>/admin-token` (null when that file is gone or revoked). */
  adminToken: string | null = null;
  adminTokenPath = '';
  private app: FastifyInstance | null = null;
  private server: Server | null = null;
  /** Set once listening: true when every bound socket is on loopback (then ingest and meters need no token). */
  private loopbackOnly = false;
  /** Refusals and timeouts per cap (`tapwire_limit_rejections_total`). */
  readonly limits = new LimitCounters();
  readonly heartbeat: Heartbeat;
  private readonly ingestConnections = new Set<IngestConnection>();
  private readonly sockets = new Set<WebSocket>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  /** Backpressure warnings in the log: at most one per station every 10 s (seed 001, "Observability"). */
  private readonly backpressureLog = new LogThrottle(10_000);
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  url = '';

  private constructor(
    readonly config: RelayConfig,
    /** The certificate the relay serves HTTPS with (docs/HTTPS.md); null: plain HTTP. */
    readonly tls: RelayTls | null,
  ) {
    mkdirSync(config.dataDir, { recursive: true });
    this.store = new Store(join(config.dataDir, 'tapwire.sqlite'));
    this.segments = new SegmentStore(join(config.dataDir, 'segments'), this.store, {
      maxAgeMs: config.segmentMaxAgeMs,
      maxBytes: config.segmentMaxBytes,
    });
    this.writer = new BucketWriter(this.store, this.segments, {
      written: (_r, writeMs) => this.metrics.observeBucketWrite(writeMs),
      failed: (r, err) => this.app?.log.error({ err, trace_id: r.traceId, station_key: r.stationKey }, 'bucket write failed'),
    });
    // Pool-wide events only: a station's own events go to the handle its owner holds.
    this.pool = new MediaPool(config.mediaWorkers, {
      bucket: (record, done) => this.writer.enqueue(record, done),
      meters: (values) => this.telemetry.meters(values),
      spectra: (values) => this.telemetry.spectra(values),
      latency: (bins) => this.metrics.observeLatencyBins(bins),
      status: (handle, state, dropped, depth) => {
        if (state !== 'backpressure' || this.app === null) return;
        const { traceId, stationKey } = handle.spec;
        if (this.backpressureLog.take(`${traceId}/${stationKey}`, Date.now()) === null) return;
        this.app.log.warn(
          { trace_id: traceId, station_key: stationKey, dropped_frames: dropped, queue_depth: depth },
          'ingress queue full: the sender is ahead of real time, its oldest frames are dropped',
        );
      },
      stationGone: (handle) => this.telemetry.forget(handle.id),
      workerFailed: (handles, err) => this.app?.log.error({ err }, `media worker failed; ${handles.length} stations lost`),
    }, Math.round(1000 / config.telemetryHz), Math.round(1000 / config.spectrumHz), config.mediaNice);
    this.registry = new LiveRegistry(config, this.store, this.pool);
    this.heartbeat = new Heartbeat(config.heartbeatIntervalMs, config.heartbeatTimeoutMs, () => this.limits.count('heartbeat_timeout'));
    this.telemetry = new TelemetryHub(this.registry, {
      publishHz: config.telemetryHz,
      // Sending stops at the backed-up threshold, so a client that never reads stays over it
      // and is closed; its memory is bounded by the threshold plus two messages.
      policy: { maxPending: 2, sendBelowBytes: config.telemetryBackedUpBytes, backedUpBytes: config.telemetryBackedUpBytes, backedUpMs: config.telemetryBackedUpMs },
    });
    this.tokens = new TokenStore(this.store.db);
    this.recordedRuns = new RecordedRunner(this.pool, this.writer);
    this.uploads = new UploadService({
      store: this.store,
      uploads: new UploadStore(this.store.db),
      shares: new RecordedBucketStore(this.store.db),
      runner: this.recordedRuns,
      config,
      limits: this.limits,
    });
    this.metrics = new RelayMetrics({
      activeTraces: () => this.registry.activeTraces().length,
      liveStations: () => this.registry.liveStationCount(),
      telemetryClients: () => this.telemetry.clientCount,
      ingest: () => {
        const r = this.stats().relay;
        return {
          frames: this.counters.framesReceived,
          bytes: this.counters.bytesReceived,
          dropped: r.frames_dropped,
          decodeErrors: this.counters.decodeErrors,
          protocolErrors: this.counters.protocolErrors,
        };
      },
      telemetry: () => this.telemetry.counters,
      limits: () => this.limits.entries(),
      queueDepth: () => this.queueDepth(),
      listen: () => ({ listeners: this.listen.listenerCounts, egressStreams: this.listen.egressStreamCount, counters: this.listen.counters }),
    });
    this.listen = new ListenService(
      this.registry,
      {
        bitrate: config.listenBitrate,
        complexity: config.listenComplexity,
        clusterMs: config.listenClusterMs,
        joinBurstMs: config.listenJoinBurstMs,
        lingerMs: config.listenEgressLingerMs,
        backedUpBytes: config.listenBackedUpBytes,
        backedUpMs: config.listenBackedUpMs,
        maxListenersPerStream: config.maxListenersPerStream,
      },
      this.heartbeat,
      this.limits,
      {
        timeToFirstByte: (s) => this.metrics.observeListenFirstByte(s),
        ingestToSend: (mode, s) => this.metrics.observeListenLatency(mode, s),
      },
      {
        info: (fields, message) => this.app?.log.info(fields, message),
        warn: (fields, message) => this.app?.log.warn(fields, message),
      },
      () => this.watchEventLoop(),
    );
    this.webrtc = new WebRtcService(
      {
        maxWhipSessions: config.maxWhipSessions,
        maxWhepSessions: config.maxWhepSessions,
        maxWhepSessionsPerStream: config.maxWhepSessionsPerStream,
        connectTimeoutMs: config.webrtcConnectTimeoutMs,
        idleTimeoutMs: config.stationIdleTimeoutMs,
        egress: { bitrate: config.listenBitrate, complexity: config.listenComplexity },
      },
      {
        registry: this.registry,
        limits: this.limits,
        listenEncoderRunning: (station) => {
          const id = streamLogId(station.streamId);
          return this.listen.streamStats().some((s) => s.stream === id && s.encoders.some((e) => e.tap === 'POST'));
        },
        received: (bytes) => {
          this.counters.framesReceived++;
          this.counters.bytesReceived += bytes;
        },
        log: {
          info: (fields, message) => this.app?.log.info(fields, message),
          warn: (fields, message) => this.app?.log.warn(fields, message),
        },
      },
    );
    this.rtp = new RtpSessions({
      config,
      registry: this.registry,
      counters: this.counters,
      log: { info: (fields, message) => this.app?.log.info(fields, message) },
    });
  }

  static async start(config: RelayConfig): Promise<Relay> {
    const valid = validateConfig(config);
    // Before anything starts: a certificate that cannot be used stops the start (exit 78).
    const relay = new Relay(valid, await prepareTls(valid));
    try {
      await relay.init();
    } catch (err) {
      // A relay that cannot listen (port taken, ...) leaves no workers or open database behind.
      await relay.pool.close().catch(() => undefined);
      await relay.app?.close().catch(() => undefined);
      relay.telemetry.close();
      relay.listen.close();
      relay.webrtc.close();
      relay.rtp.closeAll('relay_stop');
      relay.heartbeat.close();
      relay.store.close();
      throw err;
    }
    return relay;
  }

  private async init(): Promise<void> {
    const ended = this.store.endOpenOnRestart(Date.now());
    const admin = ensureAdminToken(this.config.dataDir, this.tokens);
    this.adminToken = admin.token;
    this.adminTokenPath = admin.path;
    await this.segments.init();
    await this.pool.start();
    this.server = await buildServer({
      config: this.config,
      tls: this.tls,
      tokens: this.tokens,
      // Fails closed: until the bound sockets are known, the relay counts as exposed.
      exposed: () => !this.loopbackOnly,
      limits: this.limits,
      heartbeat: this.heartbeat,
      api: {
        store: this.store,
        segments: this.segments,
        registry: this.registry,
        limits: new RateLimits(this.config.snapshotMinIntervalMs, this.config.bucketMs, this.config.applyOncePerBucket),
        bucketMs: this.config.bucketMs,
        maxScheduleAheadMs: this.config.maxScheduleAheadMs,
        completeBefore: () => this.completeBefore(),
        exportSlots: new ExportSlots(this.config.maxExports),
      },
      uploads: this.uploads,
      onIngest: (socket, client) => this.acceptIngest(socket, client),
      telemetry: this.telemetry,
      metrics: this.metrics,
      health: () => this.health(),
      stats: () => this.stats(),
      resetLatency: () => this.resetLatency(),
    });
    this.app = this.server.app;
    registerListenRoute(this.app, {
      maxListeners: this.config.maxListeners,
      maxListenersPerAddress: this.config.maxListenersPerAddress,
      limits: this.limits,
      onListen: (socket, wire, query) => this.listen.accept(socket, wire, query),
    });
    registerWebRtcRoutes(this.app, this.webrtc);
    registerRtpRoutes(this.app, this.rtp, this.config.host);
    if (this.tls?.caPem) registerCaRoutes(this.app, this.tls.caPem);
    if (ended.stations > 0) this.app.log.info(`marked ${ended.stations} stations of a previous run as ended`);
    if (this.config.mediaNice !== 0) {
      const refused = this.pool.priorities.find((p) => !p.applied);
      if (refused === undefined) this.app.log.info(`media workers run at nice ${this.config.mediaNice}, ahead of the control plane`);
      else this.app.log.info(`media workers run at the normal priority (${refused.reason}); TAPWIRE_MEDIA_NICE=0 stops asking`);
    }
    if (admin.created) this.app.log.info(`created an admin token with every scope in ${admin.path} (mode 0600)`);
    else if (admin.token === null) this.app.log.warn(`no usable admin token in ${admin.path}; create one with: npm run token -- create --scopes admin`);
    this.telemetry.start();
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      void this.writer.exclusive(() => this.segments.sweep(now));
      const expired = this.uploads.expireIdle(now);
      if (expired > 0) this.app?.log.info(`${expired} uploads untouched for ${this.config.uploadExpiryMs / 3_600_000} h expired: their unprocessed packets were deleted`);
    }, this.config.retentionSweepMs);
    this.sweepTimer.unref();
    await this.writer.exclusive(() => this.segments.sweep(Date.now()));
    const address = await this.app.listen({ host: this.config.host, port: this.config.port });
    // Behind a trusted proxy the clients are elsewhere, whatever the relay is bound to.
    this.loopbackOnly = this.config.trustedProxies.length === 0 && isLoopbackOnly(this.app.addresses().map((a) => (typeof a === "string" ? a : a.address)));
    this.url = address.replace('[::1]', '127.0.0.1');
  }

  /** Every route with its declared access (for the auth matrix tests). */
  get routes(): Server['routes'] {
    return (this.server as Server).routes;
  }

  /** True while the relay answers ingest and live meters without a token (bound to loopback only). */
  get isLoopbackOnly(): boolean {
    return this.loopbackOnly;
  }

  get log(): FastifyInstance['log'] {
    return (this.app as FastifyInstance).log;
  }

  /**
   * Buckets that start before the returned time are complete for every station: the clock
   * is past their end plus the grace (and the media workers' 10 ms tick), and the writer
   * holds none of their records. A relay that stopped finalized everything it had.
   */
  completeBefore(): number {
    const byClock = Math.floor((Date.now() - this.config.bucketGraceMs - COMPLETION_MARGIN_MS) / this.config.bucketMs) * this.config.bucketMs;
    return Math.min(byClock, this.writer.oldestPendingBucketTs());
  }

  /** The internal scheduling call: a knob change from the first sample of a future bucket. */
  scheduleKnobs(req: ScheduleRequest): Promise<ScheduleResult> {
    return this.registry.scheduleKnobs(req);
  }

  private acceptIngest(socket: WebSocket, client: ClientInfo): void {
    if (this.stopping) {
      socket.close(CLOSE.goingAway, 'relay is shutting down');
      return;
    }
    this.counters.connections++;
    this.sockets.add(socket);
    const c = this.config;
    const connection = new IngestConnection(
      socket,
      this.registry,
      {
        maxMessageBytes: c.maxMessageBytes,
        maxSourcesPerConnection: c.maxSourcesPerConnection,
        bucketMs: c.bucketMs,
        startTimeoutMs: c.startTimeoutMs,
        stationIdleTimeoutMs: c.stationIdleTimeoutMs,
      },
      this.counters,
      client,
      this.limits,
    );
    this.ingestConnections.add(connection);
    this.watchTimeouts();
    this.watchEventLoop();
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.ingestConnections.delete(connection);
      this.watchEventLoop();
    });
    this.heartbeat.add(socket, () => connection.heartbeatLost());
  }

  /** Event-loop lag is sampled while the relay has connections (ingest or listen). */
  private watchEventLoop(): void {
    this.metrics.watchEventLoop(this.sockets.size + this.listen.listenerCount);
  }

  /** The start and idle timeouts of ingest connections, checked only while there are some. */
  private watchTimeouts(): void {
    if (this.timeoutTimer !== null) return;
    const { startTimeoutMs, stationIdleTimeoutMs } = this.config;
    this.timeoutTimer = setInterval(() => {
      if (this.ingestConnections.size === 0) {
        clearInterval(this.timeoutTimer as NodeJS.Timeout);
        this.timeoutTimer = null;
        return;
      }
      const now = Date.now();
      for (const c of this.ingestConnections) c.checkTimeouts(now);
    }, Math.max(20, Math.min(1000, startTimeoutMs / 4, stationIdleTimeoutMs / 4)));
    this.timeoutTimer.unref();
  }

  /** Packets waiting in ingress queues: in all, and the deepest queue (for /metrics). */
  private queueDepth(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const t of this.registry.activeTraces()) {
      for (const s of t.stations) {
        const depth = s.handle?.stats()?.queueDepth ?? 0;
        total += depth;
        if (depth > max) max = depth;
      }
    }
    return { total, max };
  }

  health(): HealthInfo {
    return {
      version: VERSION,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      media_workers: this.pool.workerCount,
      live_stations: this.registry.liveStationCount(),
    };
  }

  /** Counters per relay and per live station. */
  stats(): RelayStats {
    const totals = { ...this.pool.closedTotals };
    const stations: RelayStats['stations'] = [];
    for (const t of this.registry.activeTraces()) {
      for (const s of t.stations) {
        const st = s.handle?.stats();
        if (st) {
          totals.frames_dropped += st.counters.frames_dropped;
          totals.frames_concealed += st.counters.frames_concealed;
          totals.late_frames += st.counters.late_frames;
          totals.resyncs += st.counters.resyncs;
          totals.frames_out_of_order += st.counters.frames_out_of_order;
        }
        stations.push({
          trace_id: s.traceId,
          station_key: s.stationKey,
          transport: s.transport,
          queue_depth: st?.queueDepth ?? 0,
          config_version: s.configVersion,
          ...(st?.counters ?? {}),
          ...(st?.quality ? { transport_quality: transportQualityJson(st.quality) } : {}),
          ...(st?.call ? { call_quality: st.call } : {}),
        });
      }
    }
    const lat = this.pool.latency;
    return {
      relay: {
        connections: this.counters.connections,
        frames_received: this.counters.framesReceived,
        bytes_received: this.counters.bytesReceived,
        decode_errors: this.counters.decodeErrors,
        protocol_errors: this.counters.protocolErrors,
        ...totals,
        buckets_written: this.writer.written,
        write_backlog: this.writer.backlog,
        segment_bytes: this.segments.bytesOnDisk,
      },
      pipeline_latency_ms: { frames: lat.count, p50: lat.quantile(0.5), p99: lat.quantile(0.99), max: lat.maxMs },
      stations,
      listen_streams: this.listen.streamStats(),
    };
  }

  /** Resets the pipeline latency histogram (benchmarks measure one window at a time). */
  resetLatency(): void {
    this.pool.latency.reset();
  }

  /** Graceful stop (SIGTERM): end every station, finalize and write every bucket, close. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    // Listeners first: "relay shutting down" and 1001, before their stations end below.
    this.listen.close();
    // WebRTC sessions close here: their stations end with relay_stop, listeners are cut.
    this.webrtc.close();
    this.heartbeat.close();
    this.telemetry.close();
    for (const socket of this.sockets) socket.close(CLOSE.goingAway, 'relay is shutting down');
    // RTP senders get our BYE; their stations end with the others below.
    this.rtp.closeAll('relay_stop');
    // A part being processed stops at its next batch; its packets stay for a retry.
    await this.recordedRuns.close();
    // Closing ends each connection's stations (their queues drain in the workers).
    const now = Date.now();
    for (const t of this.registry.activeTraces()) for (const s of t.stations) this.registry.end(s, 'relay_stop', now);
    await this.pool.flush();
    await this.writer.drain();
    await this.pool.close();
    // Requests in flight get a moment to finish; after it, their connections are cut. A
    // client that stops reading a long export (or one whose socket lingers after an abort)
    // would otherwise hold the stop forever: close() waits for every response to end.
    const app = this.app;
    const force = app === null ? null : setTimeout(() => app.server.closeAllConnections(), STOP_GRACE_MS);
    await app?.close();
    if (force !== null) clearTimeout(force);
    this.store.close();
  }
}
