/**
 * Relay configuration: defaults, overridden by environment variables (TAPWIRE_*), overridden
 * by what a caller passes (tests, benchmarks). Units are in the names.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { BUCKET_MS } from '../../protocol/metrics.ts';
import { proxyEntryError } from './http/trusted-proxies.ts';

export interface RelayConfig {
  host: string;
  port: number;
  /** SQLite file, segments and tokens live here. */
  dataDir: string;
  /** Built PWA served at `/` (adapter-static output). */
  appDir: string;
  bucketMs: number;
  /** A bucket is complete when the clock passes its end plus this. */
  bucketGraceMs: number;
  /** Per-station ingress queue capacity, in packets (seed 001: 48). */
  ingressQueueFrames: number;
  /**
   * The largest delay a WebSocket station's jitter buffer may aim at, ms (20-200; RTP and
   * WebRTC stations may go to 200: live-registry.ts `jitterAllowance`). Beyond 200 ms
   * live stations keep a plain ingress queue instead, whose media time may run this far
   * ahead of the wall clock (tests that feed live stations faster than real time).
   */
  jitterAllowanceMs: number;
  /** Largest WebSocket message accepted on ingest; larger ones close with 1009. */
  maxMessageBytes: number;
  /** Seed 001 sources per ingest connection. */
  maxSourcesPerConnection: number;
  mediaWorkers: number;
  /**
   * Scheduling priority (nice, -20..19) the media workers ask for: above the control plane's,
   * so that the audio path goes first when the core is busy (telemetry fan-out, bucket
   * writes). Raising a priority needs CAP_SYS_NICE (root, or a container granted it);
   * without, the workers run at the normal priority and the relay says so at start.
   */
  mediaNice: number;
  segmentMaxAgeMs: number;
  segmentMaxBytes: number;
  /** How often retention runs besides after writes that exceed the size limit. */
  retentionSweepMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Log lines as JSON (`json`), readable (`pretty`), or pretty on a terminal only (`auto`): logging/log-options.ts. */
  logFormat: LogFormat;
  /** Snapshot pulls per token and trace at most once per this (seed 000 §8); 0 turns the limit off. */
  snapshotMinIntervalMs: number;
  /** At most one knob apply per station per bucket (seed 000 §8); false turns the limit off. */
  applyOncePerBucket: boolean;
  /** Live meter measurements per second (seed 003: 10-20). */
  telemetryHz: number;
  /** Spectra per second per station and tap (seed 003 WS-3: 5-10). */
  spectrumHz: number;
  /** A telemetry client with more than this many bytes unsent... */
  telemetryBackedUpBytes: number;
  /** ...for longer than this is closed with 1013. */
  telemetryBackedUpMs: number;

  // Caps and timeouts (docs/SECURITY.md lists each with its default and its error).
  /** Open `/ws/ingest` connections at most; beyond, the upgrade answers 503 with Retry-After. */
  maxIngestConnections: number;
  /** Open `/ws/telemetry` clients at most; beyond, 503 with Retry-After. */
  maxTelemetryClients: number;
  /** Open connections per client address on each WebSocket endpoint; beyond, 429 with Retry-After. */
  maxConnectionsPerAddress: number;
  /** Live stations on the relay (streaming, or started and waiting for audio); beyond, close 1013. */
  maxLiveStations: number;
  /** Live stations per client address. */
  maxStationsPerAddress: number;
  /** Live stations in one trace. */
  maxStationsPerTrace: number;
  /** An ingest connection that sends no `start` within this is closed (4408). */
  startTimeoutMs: number;
  /** A live station that sends no audio for this long ends, its last bucket finalized. */
  stationIdleTimeoutMs: number;
  /** Every WebSocket the relay serves is pinged this often (seed 004: 15 s)... */
  heartbeatIntervalMs: number;
  /** ...and cut when its pong is this late (seed 004: 10 s). */
  heartbeatTimeoutMs: number;
  /** How far ahead of the bucket in progress a knob change may be scheduled. */
  maxScheduleAheadMs: number;
  /** Packets stored for one upload and not yet processed, bytes at most (413 beyond). */
  uploadMaxPendingBytes: number;
  /** The same, summed over every upload of one token. */
  uploadMaxPendingBytesPerToken: number;
  /** An upload untouched for this long loses the packets it never had processed (410 after). */
  uploadExpiryMs: number;

  // Live listening (`/ws/listen`, protocol/listen.ts).
  /** Open listen sockets on the relay at most; beyond, the upgrade answers 503 with Retry-After. */
  maxListeners: number;
  /** Open listen sockets per client address; beyond, 429 with Retry-After. */
  maxListenersPerAddress: number;
  /** Listeners of one stream (every tap and mode); beyond, `error` `stream_full` and close 1013. */
  maxListenersPerStream: number;
  /** Audio exports (`GET /api/audio/export`) streamed at once; beyond, 503 `relay_busy` with Retry-After. */
  maxExports: number;
  /** Egress Opus target, bit/s (6000-510000): one encoder per station and tap, whatever the listeners. */
  listenBitrate: number;
  /** Egress Opus complexity (0-10): CPU in the media worker against quality. */
  listenComplexity: number;
  /** Length of a WebM cluster for `mode=mse`, ms: a multiple of 20 (the packet). It is delay added before a listener hears it. */
  listenClusterMs: number;
  /**
   * `mode=mse`: a joiner gets this much of the newest audio at once (whole clusters), so its
   * player can start without waiting for its initial buffer to fill in real time; the
   * encoder's first listener gets it too (the media worker encodes that much of the tap's
   * recent audio first). 0: live edge only.
   */
  listenJoinBurstMs: number;
  /** A `stream_id` stays valid this long after its station ended: a joiner gets `stream_end`, later 4404. */
  listenGraceMs: number;
  /** A (station, tap) egress with no listener left is stopped after this (a listener back within it finds it running). */
  listenEgressLingerMs: number;
  /** A listener with more than this many bytes unsent gets nothing new until it has drained (it skips)... */
  listenBackedUpBytes: number;
  /** ...and one that skips for longer than this is closed with 4008. */
  listenBackedUpMs: number;

  // WebRTC (`/whip`, `/whep`, docs/WEBRTC.md).
  /** WHIP sessions (stations streaming over WebRTC) at most; beyond, 503 relay_busy. */
  maxWhipSessions: number;
  /** WHEP sessions (WebRTC listeners) on the relay at most; beyond, 503 relay_busy. */
  maxWhepSessions: number;
  /** WHEP sessions of one stream at most; beyond, 503 relay_busy. */
  maxWhepSessionsPerStream: number;
  /** A WHIP or WHEP session whose ICE and DTLS are not up this long after its answer is closed. */
  webrtcConnectTimeoutMs: number;
  // Plain RTP/UDP ingest (`/api/rtp/sessions`, docs/RTP.md).
  /** UDP ports RTP sessions take, inclusive: RTP on an even port, its RTCP on the next (RFC 3550 §11). */
  rtpPortMin: number;
  rtpPortMax: number;
  /** Open RTP sessions at most; beyond, `503 rtp_sessions_full`. */
  maxRtpSessions: number;
  /** A session that receives no packet within this of opening is closed, its port pair freed. */
  rtpStartTimeoutMs: number;
  /** A session whose sender goes quiet (no RTP or RTCP) for this long is closed and its station ends. */
  rtpIdleTimeoutMs: number;
  /** The smallest interval between our RTCP receiver reports (RFC 3550 §6.2 T_min: 5 s). */
  rtcpMinIntervalMs: number;
  // HTTPS (docs/HTTPS.md): browsers allow microphones only on https:// or localhost.
  /** 'local': serve HTTPS with the local CA's certificate (`<data dir>/tls/`, made if missing); 'off': as the files below say. */
  tls: 'off' | 'local';
  /** PEM certificate (chain) and its key: with both, the relay serves HTTPS and WSS on its port. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /**
   * Reverse proxies (IP addresses, CIDR blocks) whose X-Forwarded-For names the client
   * (docs/DEPLOY.md). Any entry makes the relay count as exposed: tokens everywhere.
   */
  trustedProxies: readonly string[];
}

const HOUR_MS = 3600_000;
const MIB = 1024 * 1024;

export function defaultConfig(): RelayConfig {
  return {
    host: '127.0.0.1',
    port: 8080,
    dataDir: resolve('data'),
    appDir: resolve('build'),
    bucketMs: BUCKET_MS,
    bucketGraceMs: 1000,
    ingressQueueFrames: 48,
    jitterAllowanceMs: 60,
    maxMessageBytes: 64 * 1024,
    maxSourcesPerConnection: 16,
    mediaWorkers: Math.max(1, availableParallelism()),
    mediaNice: -5,
    segmentMaxAgeMs: 7 * 24 * HOUR_MS,
    segmentMaxBytes: 2 * 1024 ** 3,
    retentionSweepMs: 60_000,
    logLevel: 'info',
    logFormat: 'auto',
    snapshotMinIntervalMs: 5000,
    applyOncePerBucket: true,
    telemetryHz: 20,
    spectrumHz: 5,
    telemetryBackedUpBytes: 256 * 1024,
    telemetryBackedUpMs: 5000,
    maxIngestConnections: 1000,
    maxTelemetryClients: 500,
    maxConnectionsPerAddress: 200,
    maxLiveStations: 500,
    maxStationsPerAddress: 64,
    maxStationsPerTrace: 32,
    startTimeoutMs: 5000,
    stationIdleTimeoutMs: 30_000,
    heartbeatIntervalMs: 15_000,
    heartbeatTimeoutMs: 10_000,
    maxScheduleAheadMs: HOUR_MS,
    uploadMaxPendingBytes: 256 * MIB,
    uploadMaxPendingBytesPerToken: 1024 * MIB,
    uploadExpiryMs: 72 * HOUR_MS,
    maxListeners: 20_000,
    maxListenersPerAddress: 200,
    maxListenersPerStream: 10_000,
    maxExports: 4,
    listenBitrate: 32_000,
    listenComplexity: 5,
    listenClusterMs: 200,
    listenJoinBurstMs: 1000,
    listenGraceMs: 60_000,
    listenEgressLingerMs: 5000,
    listenBackedUpBytes: 16 * 1024,
    listenBackedUpMs: 10_000,
    maxWhipSessions: 100,
    maxWhepSessions: 200,
    maxWhepSessionsPerStream: 50,
    webrtcConnectTimeoutMs: 10_000,
    rtpPortMin: 40000,
    rtpPortMax: 40999,
    maxRtpSessions: 100,
    rtpStartTimeoutMs: 30_000,
    rtpIdleTimeoutMs: 30_000,
    rtcpMinIntervalMs: 5000,
    tls: 'off',
    tlsCertFile: null,
    tlsKeyFile: null,
    trustedProxies: [],
  };
}

/**
 * Caps and timeouts read from the environment: variable, config key, and the unit the
 * variable is in (the config holds ms and bytes).
 */
const LIMIT_VARIABLES: readonly [string, keyof RelayConfig, 'count' | 'ms' | 's' | 'hours' | 'MiB'][] = [
  ['TAPWIRE_MAX_INGEST_CONNECTIONS', 'maxIngestConnections', 'count'],
  ['TAPWIRE_MAX_TELEMETRY_CLIENTS', 'maxTelemetryClients', 'count'],
  ['TAPWIRE_MAX_CONNECTIONS_PER_ADDRESS', 'maxConnectionsPerAddress', 'count'],
  ['TAPWIRE_MAX_STATIONS', 'maxLiveStations', 'count'],
  ['TAPWIRE_MAX_STATIONS_PER_ADDRESS', 'maxStationsPerAddress', 'count'],
  ['TAPWIRE_MAX_STATIONS_PER_TRACE', 'maxStationsPerTrace', 'count'],
  ['TAPWIRE_START_TIMEOUT_MS', 'startTimeoutMs', 'ms'],
  ['TAPWIRE_STATION_IDLE_TIMEOUT_MS', 'stationIdleTimeoutMs', 'ms'],
  ['TAPWIRE_HEARTBEAT_INTERVAL_MS', 'heartbeatIntervalMs', 'ms'],
  ['TAPWIRE_HEARTBEAT_TIMEOUT_MS', 'heartbeatTimeoutMs', 'ms'],
  ['TAPWIRE_MAX_SCHEDULE_AHEAD_S', 'maxScheduleAheadMs', 's'],
  ['TAPWIRE_UPLOAD_MAX_MB', 'uploadMaxPendingBytes', 'MiB'],
  ['TAPWIRE_UPLOAD_TOKEN_MAX_MB', 'uploadMaxPendingBytesPerToken', 'MiB'],
  ['TAPWIRE_UPLOAD_EXPIRY_HOURS', 'uploadExpiryMs', 'hours'],
  ['TAPWIRE_MAX_LISTENERS', 'maxListeners', 'count'],
  ['TAPWIRE_MAX_LISTENERS_PER_ADDRESS', 'maxListenersPerAddress', 'count'],
  ['TAPWIRE_MAX_LISTENERS_PER_STREAM', 'maxListenersPerStream', 'count'],
  ['TAPWIRE_MAX_EXPORTS', 'maxExports', 'count'],
  ['TAPWIRE_LISTEN_GRACE_MS', 'listenGraceMs', 'ms'],
  ['TAPWIRE_LISTEN_BACKED_UP_BYTES', 'listenBackedUpBytes', 'count'],
  ['TAPWIRE_LISTEN_BACKED_UP_MS', 'listenBackedUpMs', 'ms'],
  ['TAPWIRE_MAX_WHIP_SESSIONS', 'maxWhipSessions', 'count'],
  ['TAPWIRE_MAX_WHEP_SESSIONS', 'maxWhepSessions', 'count'],
  ['TAPWIRE_MAX_WHEP_SESSIONS_PER_STREAM', 'maxWhepSessionsPerStream', 'count'],
  ['TAPWIRE_WEBRTC_CONNECT_TIMEOUT_MS', 'webrtcConnectTimeoutMs', 'ms'],
  ['TAPWIRE_MAX_RTP_SESSIONS', 'maxRtpSessions', 'count'],
  ['TAPWIRE_RTP_START_TIMEOUT_MS', 'rtpStartTimeoutMs', 'ms'],
  ['TAPWIRE_RTP_IDLE_TIMEOUT_MS', 'rtpIdleTimeoutMs', 'ms'],
  ['TAPWIRE_RTCP_MIN_INTERVAL_MS', 'rtcpMinIntervalMs', 'ms'],
];
const UNIT_SCALE = { count: 1, ms: 1, s: 1000, hours: HOUR_MS, MiB: MIB } as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(v.trim())) throw new TypeError(`${name} must be a number, got "${v}"`);
  return Number(v.trim());
}

/** Reads TAPWIRE_* variables over the defaults. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const c = defaultConfig();
  const set = <K extends keyof RelayConfig>(key: K, value: RelayConfig[K] | undefined): void => {
    if (value !== undefined) c[key] = value;
  };
  set('host', env.TAPWIRE_HOST || undefined);
  set('port', int(env, 'TAPWIRE_PORT'));
  set('dataDir', env.TAPWIRE_DATA_DIR ? resolve(env.TAPWIRE_DATA_DIR) : undefined);
  set('appDir', env.TAPWIRE_APP_DIR ? resolve(env.TAPWIRE_APP_DIR) : undefined);
  set('bucketGraceMs', int(env, 'TAPWIRE_BUCKET_GRACE_MS'));
  set('ingressQueueFrames', int(env, 'TAPWIRE_INGRESS_QUEUE_FRAMES'));
  set('jitterAllowanceMs', int(env, 'TAPWIRE_JITTER_ALLOWANCE_MS'));
  set('mediaWorkers', int(env, 'TAPWIRE_MEDIA_WORKERS'));
  set('mediaNice', int(env, 'TAPWIRE_MEDIA_NICE'));
  const ageH = int(env, 'TAPWIRE_SEGMENT_MAX_AGE_HOURS');
  set('segmentMaxAgeMs', ageH === undefined ? undefined : Math.round(ageH * HOUR_MS));
  const mb = int(env, 'TAPWIRE_SEGMENT_MAX_MB');
  set('segmentMaxBytes', mb === undefined ? undefined : Math.round(mb * 1024 * 1024));
  set('logLevel', (env.TAPWIRE_LOG_LEVEL as RelayConfig['logLevel']) || undefined);
  set('logFormat', (env.TAPWIRE_LOG_FORMAT?.trim() as LogFormat) || undefined);
  set('snapshotMinIntervalMs', int(env, 'TAPWIRE_SNAPSHOT_MIN_INTERVAL_MS'));
  const applyLimit = int(env, 'TAPWIRE_APPLY_ONCE_PER_BUCKET');
  set('applyOncePerBucket', applyLimit === undefined ? undefined : applyLimit !== 0);
  set('telemetryHz', int(env, 'TAPWIRE_TELEMETRY_HZ'));
  set('spectrumHz', int(env, 'TAPWIRE_SPECTRUM_HZ'));
  set('telemetryBackedUpBytes', int(env, 'TAPWIRE_TELEMETRY_BACKED_UP_BYTES'));
  set('telemetryBackedUpMs', int(env, 'TAPWIRE_TELEMETRY_BACKED_UP_MS'));
  set('listenBitrate', int(env, 'TAPWIRE_LISTEN_BITRATE'));
  set('listenComplexity', int(env, 'TAPWIRE_LISTEN_COMPLEXITY'));
  set('listenClusterMs', int(env, 'TAPWIRE_LISTEN_CLUSTER_MS'));
  set('listenJoinBurstMs', int(env, 'TAPWIRE_LISTEN_JOIN_BURST_MS'));
  set('listenEgressLingerMs', int(env, 'TAPWIRE_LISTEN_EGRESS_LINGER_MS'));
  const rtpPorts = env.TAPWIRE_RTP_PORTS?.trim();
  if (rtpPorts) {
    const m = /^(\d+)\s*-\s*(\d+)$/.exec(rtpPorts);
    if (m === null) throw new TypeError(`TAPWIRE_RTP_PORTS must be a range like 40000-40999, got "${rtpPorts}"`);
    c.rtpPortMin = Number(m[1]);
    c.rtpPortMax = Number(m[2]);
  }
  const tls = env.TAPWIRE_TLS?.trim();
  if (tls) {
    if (tls !== 'local' && tls !== 'off') throw new TypeError(`TAPWIRE_TLS must be "local" (HTTPS with the local CA's certificate) or "off", got "${tls}"`);
    c.tls = tls;
  }
  set('tlsCertFile', env.TAPWIRE_TLS_CERT ? resolve(env.TAPWIRE_TLS_CERT) : undefined);
  set('tlsKeyFile', env.TAPWIRE_TLS_KEY ? resolve(env.TAPWIRE_TLS_KEY) : undefined);
  const proxies = env.TAPWIRE_TRUSTED_PROXIES?.trim();
  if (proxies) c.trustedProxies = proxies.split(',').map((p) => p.trim());
  for (const [name, key, unit] of LIMIT_VARIABLES) {
    const v = int(env, name);
    if (v !== undefined) (c[key] as number) = Math.round(v * UNIT_SCALE[unit]);
  }
  return validateConfig(c);
}

export function validateConfig(c: RelayConfig): RelayConfig {
  const positive: (keyof RelayConfig)[] = [
    'bucketMs',
    'ingressQueueFrames',
    'maxMessageBytes',
    'mediaWorkers',
    'segmentMaxAgeMs',
    'segmentMaxBytes',
    ...LIMIT_VARIABLES.map(([, key]) => key),
  ];
  for (const k of positive) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new TypeError(`port must be 0-65535, got ${c.port}`);
  if (!Number.isInteger(c.mediaNice) || c.mediaNice < -20 || c.mediaNice > 19) throw new TypeError(`mediaNice (TAPWIRE_MEDIA_NICE) must be an integer from -20 to 19, got ${c.mediaNice}`);
  if (!Number.isInteger(c.bucketGraceMs) || c.bucketGraceMs < 0 || c.bucketGraceMs >= c.bucketMs) {
    throw new TypeError(`bucketGraceMs (TAPWIRE_BUCKET_GRACE_MS) must be an integer from 0 to less than ${c.bucketMs}, got ${c.bucketGraceMs}`);
  }
  if (!Number.isInteger(c.telemetryHz) || c.telemetryHz < 10 || c.telemetryHz > 20) {
    throw new TypeError(`telemetryHz (TAPWIRE_TELEMETRY_HZ) must be an integer from 10 to 20, got ${c.telemetryHz}`);
  }
  if (!Number.isInteger(c.spectrumHz) || c.spectrumHz < 5 || c.spectrumHz > 10) {
    throw new TypeError(`spectrumHz (TAPWIRE_SPECTRUM_HZ) must be an integer from 5 to 10, got ${c.spectrumHz}`);
  }
  if (!Number.isInteger(c.listenBitrate) || c.listenBitrate < 6000 || c.listenBitrate > 510_000) {
    throw new TypeError(`listenBitrate (TAPWIRE_LISTEN_BITRATE) must be an integer from 6000 to 510000 bit/s, got ${c.listenBitrate}`);
  }
  if (!Number.isInteger(c.listenComplexity) || c.listenComplexity < 0 || c.listenComplexity > 10) {
    throw new TypeError(`listenComplexity (TAPWIRE_LISTEN_COMPLEXITY) must be an integer from 0 to 10, got ${c.listenComplexity}`);
  }
  if (!Number.isInteger(c.listenClusterMs) || c.listenClusterMs < 20 || c.listenClusterMs > 5000 || c.listenClusterMs % 20 !== 0) {
    throw new TypeError(`listenClusterMs (TAPWIRE_LISTEN_CLUSTER_MS) must be a multiple of 20 from 20 to 5000 ms (one Opus packet is 20 ms), got ${c.listenClusterMs}`);
  }
  if (!Number.isInteger(c.listenJoinBurstMs) || c.listenJoinBurstMs < 0 || c.listenJoinBurstMs > 5000) {
    throw new TypeError(`listenJoinBurstMs (TAPWIRE_LISTEN_JOIN_BURST_MS) must be an integer from 0 to 5000 ms, got ${c.listenJoinBurstMs}`);
  }
  if (!Number.isInteger(c.listenEgressLingerMs) || c.listenEgressLingerMs < 0) {
    throw new TypeError(`listenEgressLingerMs (TAPWIRE_LISTEN_EGRESS_LINGER_MS) must be an integer >= 0, got ${c.listenEgressLingerMs}`);
  }
  // A skip decision is taken before each message: the threshold must let a joiner's burst
  // and the next cluster through (at least two clusters), or a listener at full speed would skip.
  const clusterBytes = Math.ceil((c.listenBitrate / 8) * (c.listenClusterMs / 1000)) + 64;
  const clusters = Math.max(1, Math.ceil(c.listenJoinBurstMs / c.listenClusterMs)) + 1;
  if (c.listenBackedUpBytes < clusters * clusterBytes) {
    throw new TypeError(
      `listenBackedUpBytes (TAPWIRE_LISTEN_BACKED_UP_BYTES) must hold a joiner's burst and the next cluster, at least ${clusters} clusters (${clusters * clusterBytes} bytes at ${c.listenBitrate} bit/s, ${c.listenClusterMs} ms clusters and a ${c.listenJoinBurstMs} ms join burst), got ${c.listenBackedUpBytes}`,
    );
  }
  // Each session takes an even port for RTP and the odd one above it for RTCP: the range must hold one pair.
  const evenMin = c.rtpPortMin + (c.rtpPortMin % 2);
  if (!Number.isInteger(c.rtpPortMin) || !Number.isInteger(c.rtpPortMax) || c.rtpPortMin < 1024 || c.rtpPortMax > 65535 || evenMin + 1 > c.rtpPortMax) {
    throw new TypeError(`the RTP port range (TAPWIRE_RTP_PORTS) must lie in 1024-65535 and hold an even port and the next, got ${c.rtpPortMin}-${c.rtpPortMax}`);
  }
  if ((c.tlsCertFile === null) !== (c.tlsKeyFile === null)) {
    const [set, unset] = c.tlsCertFile !== null ? ['TAPWIRE_TLS_CERT', 'TAPWIRE_TLS_KEY'] : ['TAPWIRE_TLS_KEY', 'TAPWIRE_TLS_CERT'];
    throw new TypeError(`${set} is set but ${unset} is not: HTTPS needs both the certificate and its key (PEM files), or neither for plain HTTP`);
  }
  if (c.tls === 'local' && c.tlsCertFile !== null) {
    throw new TypeError('TAPWIRE_TLS=local (or --tls) makes its own certificate, and TAPWIRE_TLS_CERT/TAPWIRE_TLS_KEY name another: choose one');
  }
  for (const entry of c.trustedProxies) {
    const error = proxyEntryError(entry);
    if (error !== null) throw new TypeError(`trustedProxies (TAPWIRE_TRUSTED_PROXIES) must list IP addresses or CIDR blocks separated by commas, e.g. 127.0.0.1,10.0.0.0/8: ${error}`);
  }
  if (!(LOG_LEVELS as readonly string[]).includes(c.logLevel)) {
    throw new TypeError(`logLevel (TAPWIRE_LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}, got "${c.logLevel}"`);
  }
  if (!(LOG_FORMATS as readonly string[]).includes(c.logFormat)) {
    throw new TypeError(`logFormat (TAPWIRE_LOG_FORMAT) must be one of ${LOG_FORMATS.join(', ')}, got "${c.logFormat}"`);
  }
  return c;
}
