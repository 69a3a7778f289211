import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv, defaultConfig, validateConfig, type RelayConfig } from './config.ts';

const HOUR_MS = 3600_000;
const MIB = 1024 * 1024;

/** configFromEnv on exactly these variables (never the test process's own environment). */
const fromEnv = (env: Record<string, string>): RelayConfig => configFromEnv(env);

function typeError(env: Record<string, string>): TypeError {
  try {
    fromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return err as TypeError;
  }
  throw new Error(`expected a TypeError for ${JSON.stringify(env)}`);
}

describe('configFromEnv defaults', () => {
  it('keeps every default when no TAPWIRE_* variable is set', () => {
    const c = fromEnv({});
    expect(c).toEqual(defaultConfig());
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(join(process.cwd(), 'data'));
    expect(c.appDir).toBe(join(process.cwd(), 'build'));
    expect(c.bucketMs).toBe(5000);
    expect(c.bucketGraceMs).toBe(1000);
    expect(c.ingressQueueFrames).toBe(48);
    expect(c.segmentMaxAgeMs).toBe(7 * 24 * HOUR_MS);
    expect(c.segmentMaxBytes).toBe(2 * 1024 * MIB);
    expect(c.mediaWorkers).toBe(Math.max(1, availableParallelism()));
    expect(c.logLevel).toBe('info');
  });

  it('treats empty values as unset', () => {
    const empty = Object.fromEntries(
      [
        'TAPWIRE_HOST',
        'TAPWIRE_PORT',
        'TAPWIRE_DATA_DIR',
        'TAPWIRE_APP_DIR',
        'TAPWIRE_MEDIA_WORKERS',
        'TAPWIRE_INGRESS_QUEUE_FRAMES',
        'TAPWIRE_BUCKET_GRACE_MS',
        'TAPWIRE_JITTER_ALLOWANCE_MS',
        'TAPWIRE_SEGMENT_MAX_AGE_HOURS',
        'TAPWIRE_SEGMENT_MAX_MB',
        'TAPWIRE_LOG_LEVEL',
      ].map((k) => [k, '']),
    );
    expect(fromEnv(empty)).toEqual(defaultConfig());
  });

  it('reads only TAPWIRE_* names', () => {
    expect(fromEnv({ PORT: '1234', HOST: '0.0.0.0', DATA_DIR: '/x', LOG_LEVEL: 'debug' })).toEqual(defaultConfig());
  });

  it('reads process.env when called without an argument', () => {
    const saved = process.env.TAPWIRE_PORT;
    process.env.TAPWIRE_PORT = '9123';
    try {
      expect(configFromEnv().port).toBe(9123);
    } finally {
      if (saved === undefined) delete process.env.TAPWIRE_PORT;
      else process.env.TAPWIRE_PORT = saved;
    }
  });
});

describe('configFromEnv overrides', () => {
  it('reads every variable, each in its unit', () => {
    const c = fromEnv({
      TAPWIRE_HOST: '0.0.0.0',
      TAPWIRE_PORT: '9000',
      TAPWIRE_DATA_DIR: '/var/lib/tapwire',
      TAPWIRE_MEDIA_WORKERS: '3',
      TAPWIRE_INGRESS_QUEUE_FRAMES: '96',
      TAPWIRE_BUCKET_GRACE_MS: '250',
      TAPWIRE_SEGMENT_MAX_AGE_HOURS: '48',
      TAPWIRE_SEGMENT_MAX_MB: '512',
      TAPWIRE_LOG_LEVEL: 'debug',
    });
    expect(c).toEqual({
      ...defaultConfig(),
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/tapwire',
      mediaWorkers: 3,
      ingressQueueFrames: 96,
      bucketGraceMs: 250,
      segmentMaxAgeMs: 48 * HOUR_MS,
      segmentMaxBytes: 512 * MIB,
      logLevel: 'debug',
    });
  });

  it('converts hours to milliseconds and MiB to bytes, fractions included', () => {
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_AGE_HOURS: '1' }).segmentMaxAgeMs).toBe(3_600_000);
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_AGE_HOURS: '0.5' }).segmentMaxAgeMs).toBe(1_800_000);
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_AGE_HOURS: '168' }).segmentMaxAgeMs).toBe(604_800_000);
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_MB: '1' }).segmentMaxBytes).toBe(1_048_576);
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_MB: '1.5' }).segmentMaxBytes).toBe(1_572_864);
    expect(fromEnv({ TAPWIRE_SEGMENT_MAX_MB: '10240' }).segmentMaxBytes).toBe(10 * 1024 ** 3);
  });

  it('resolves a relative TAPWIRE_DATA_DIR against the working directory', () => {
    const c = fromEnv({ TAPWIRE_DATA_DIR: 'var/tapwire-data' });
    expect(isAbsolute(c.dataDir)).toBe(true);
    expect(c.dataDir).toBe(join(process.cwd(), 'var', 'tapwire-data'));
    expect(fromEnv({ TAPWIRE_DATA_DIR: './d/../e/' }).dataDir).toBe(resolve(process.cwd(), 'e'));
    expect(fromEnv({ TAPWIRE_DATA_DIR: '/srv/tapwire/' }).dataDir).toBe('/srv/tapwire');
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const)('reads TAPWIRE_LOG_LEVEL=%s', (level) => {
    expect(fromEnv({ TAPWIRE_LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it('accepts the edges of each range', () => {
    expect(fromEnv({ TAPWIRE_PORT: '0' }).port).toBe(0);
    expect(fromEnv({ TAPWIRE_PORT: '65535' }).port).toBe(65535);
    expect(fromEnv({ TAPWIRE_BUCKET_GRACE_MS: '0' }).bucketGraceMs).toBe(0);
    expect(fromEnv({ TAPWIRE_BUCKET_GRACE_MS: '4999' }).bucketGraceMs).toBe(4999);
    expect(fromEnv({ TAPWIRE_MEDIA_WORKERS: '1' }).mediaWorkers).toBe(1);
    expect(fromEnv({ TAPWIRE_INGRESS_QUEUE_FRAMES: '1' }).ingressQueueFrames).toBe(1);
  });

  it('does not share state between calls', () => {
    const a = fromEnv({ TAPWIRE_PORT: '1' });
    const b = fromEnv({});
    expect(a.port).toBe(1);
    expect(b.port).toBe(8080);
  });
});

describe('configFromEnv errors', () => {
  it.each([
    ['TAPWIRE_PORT', 'eighty'],
    ['TAPWIRE_PORT', '80a'],
    ['TAPWIRE_MEDIA_WORKERS', 'all'],
    ['TAPWIRE_INGRESS_QUEUE_FRAMES', '48 frames'],
    ['TAPWIRE_BUCKET_GRACE_MS', '1s'],
    ['TAPWIRE_SEGMENT_MAX_AGE_HOURS', '7d'],
    ['TAPWIRE_SEGMENT_MAX_MB', '2GB'],
    ['TAPWIRE_SEGMENT_MAX_MB', 'NaN'],
    ['TAPWIRE_SEGMENT_MAX_MB', 'Infinity'],
    ['TAPWIRE_JITTER_ALLOWANCE_MS', 'x'],
  ])('%s=%j is not a number: a TypeError naming the variable and the value', (name, v) => {
    expect(typeError({ [name]: v }).message).toBe(`${name} must be a number, got "${v}"`);
  });

  it.each([
    ['TAPWIRE_SEGMENT_MAX_MB', '0', 'segmentMaxBytes', '0'],
    ['TAPWIRE_SEGMENT_MAX_MB', '-1', 'segmentMaxBytes', String(-MIB)],
    ['TAPWIRE_SEGMENT_MAX_AGE_HOURS', '0', 'segmentMaxAgeMs', '0'],
    ['TAPWIRE_SEGMENT_MAX_AGE_HOURS', '-24', 'segmentMaxAgeMs', String(-24 * HOUR_MS)],
    ['TAPWIRE_MEDIA_WORKERS', '0', 'mediaWorkers', '0'],
    ['TAPWIRE_MEDIA_WORKERS', '1.5', 'mediaWorkers', '1.5'],
    ['TAPWIRE_INGRESS_QUEUE_FRAMES', '0', 'ingressQueueFrames', '0'],
    ['TAPWIRE_INGRESS_QUEUE_FRAMES', '-48', 'ingressQueueFrames', '-48'],
  ])('%s=%s is not a positive size: a TypeError naming the setting', (name, v, key, got) => {
    expect(typeError({ [name]: v }).message).toBe(`${key} must be a positive integer, got ${got}`);
  });

  it.each(['-1', '65536', '100000', '80.5'])('TAPWIRE_PORT=%s is out of range', (v) => {
    expect(typeError({ TAPWIRE_PORT: v }).message).toBe(`port must be 0-65535, got ${Number(v)}`);
  });

  it.each(['5000', '5001', '60000', '-1'])('TAPWIRE_BUCKET_GRACE_MS=%s is not in [0, bucketMs)', (v) => {
    expect(typeError({ TAPWIRE_BUCKET_GRACE_MS: v }).message).toBe(
      `bucketGraceMs (TAPWIRE_BUCKET_GRACE_MS) must be an integer from 0 to less than 5000, got ${Number(v)}`,
    );
  });

  it('rejects an unknown TAPWIRE_LOG_LEVEL before anything starts', () => {
    expect(typeError({ TAPWIRE_LOG_LEVEL: 'verbose' }).message).toBe(
      'logLevel (TAPWIRE_LOG_LEVEL) must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    );
  });

  it.each(['auto', 'pretty', 'json'] as const)('reads TAPWIRE_LOG_FORMAT=%s', (format) => {
    expect(fromEnv({ TAPWIRE_LOG_FORMAT: format }).logFormat).toBe(format);
  });

  it('logs in the auto format by default (pretty on a terminal, JSON elsewhere)', () => {
    expect(fromEnv({}).logFormat).toBe('auto');
    expect(fromEnv({ TAPWIRE_LOG_FORMAT: '' }).logFormat).toBe('auto');
  });

  it.each(['JSON', 'text', 'pretty,json'])('rejects TAPWIRE_LOG_FORMAT=%s, naming the variable and the choices', (v) => {
    expect(typeError({ TAPWIRE_LOG_FORMAT: v }).message).toBe(`logFormat (TAPWIRE_LOG_FORMAT) must be one of auto, pretty, json, got "${v}"`);
  });
});

describe('validateConfig', () => {
  it('returns a valid config unchanged', () => {
    const c = defaultConfig();
    expect(validateConfig(c)).toBe(c);
  });

  it('checks the grace against the configured bucket length', () => {
    expect(() => validateConfig({ ...defaultConfig(), bucketMs: 1000, bucketGraceMs: 1000 })).toThrow(TypeError);
    expect(validateConfig({ ...defaultConfig(), bucketMs: 1000, bucketGraceMs: 999 }).bucketGraceMs).toBe(999);
  });

  it('takes a media priority from -20 to 19 and refuses anything else', () => {
    expect(configFromEnv({ TAPWIRE_MEDIA_NICE: '-20' }).mediaNice).toBe(-20);
    expect(configFromEnv({ TAPWIRE_MEDIA_NICE: '0' }).mediaNice).toBe(0);
    expect(defaultConfig().mediaNice).toBe(-5);
    for (const bad of ['-21', '20', '2.5']) {
      expect(() => configFromEnv({ TAPWIRE_MEDIA_NICE: bad })).toThrow(/TAPWIRE_MEDIA_NICE/);
    }
  });

  it.each(['bucketMs', 'maxMessageBytes', 'segmentMaxBytes'] as const)('rejects a zero %s', (key) => {
    expect(() => validateConfig({ ...defaultConfig(), [key]: 0 })).toThrow(new TypeError(`${key} must be a positive integer, got 0`));
  });
});

describe('rate limit settings', () => {
  it('keeps both seed 000 §8 limits on by default and lets each be turned off', () => {
    expect(fromEnv({})).toMatchObject({ snapshotMinIntervalMs: 5000, applyOncePerBucket: true });
    expect(fromEnv({ TAPWIRE_SNAPSHOT_MIN_INTERVAL_MS: '0', TAPWIRE_APPLY_ONCE_PER_BUCKET: '0' })).toMatchObject({
      snapshotMinIntervalMs: 0,
      applyOncePerBucket: false,
    });
  });
});

describe('listening settings', () => {
  it('has the documented defaults', () => {
    expect(fromEnv({})).toMatchObject({
      maxListeners: 20_000,
      maxListenersPerAddress: 200,
      maxListenersPerStream: 10_000,
      listenBitrate: 32_000,
      listenComplexity: 5,
      listenClusterMs: 200,
      listenJoinBurstMs: 1000,
      listenGraceMs: 60_000,
      listenEgressLingerMs: 5000,
      listenBackedUpBytes: 16 * 1024,
      listenBackedUpMs: 10_000,
    });
  });

  it('reads every TAPWIRE_*LISTEN* variable', () => {
    expect(
      fromEnv({
        TAPWIRE_MAX_LISTENERS: '15000',
        TAPWIRE_MAX_LISTENERS_PER_ADDRESS: '50',
        TAPWIRE_MAX_LISTENERS_PER_STREAM: '900',
        TAPWIRE_LISTEN_BITRATE: '48000',
        TAPWIRE_LISTEN_COMPLEXITY: '10',
        TAPWIRE_LISTEN_CLUSTER_MS: '100',
        TAPWIRE_LISTEN_JOIN_BURST_MS: '500',
        TAPWIRE_LISTEN_GRACE_MS: '1500',
        TAPWIRE_LISTEN_EGRESS_LINGER_MS: '0',
        TAPWIRE_LISTEN_BACKED_UP_BYTES: '65536',
        TAPWIRE_LISTEN_BACKED_UP_MS: '2000',
      }),
    ).toEqual({
      ...defaultConfig(),
      maxListeners: 15000,
      maxListenersPerAddress: 50,
      maxListenersPerStream: 900,
      listenBitrate: 48000,
      listenComplexity: 10,
      listenClusterMs: 100,
      listenJoinBurstMs: 500,
      listenGraceMs: 1500,
      listenEgressLingerMs: 0,
      listenBackedUpBytes: 65536,
      listenBackedUpMs: 2000,
    });
  });

  it.each([
    ['TAPWIRE_LISTEN_BITRATE', '5999', /listenBitrate \(TAPWIRE_LISTEN_BITRATE\) must be an integer from 6000 to 510000/],
    ['TAPWIRE_LISTEN_BITRATE', '510001', /TAPWIRE_LISTEN_BITRATE/],
    ['TAPWIRE_LISTEN_COMPLEXITY', '11', /listenComplexity \(TAPWIRE_LISTEN_COMPLEXITY\) must be an integer from 0 to 10/],
    ['TAPWIRE_LISTEN_CLUSTER_MS', '250', /multiple of 20 from 20 to 5000 ms/],
    ['TAPWIRE_LISTEN_CLUSTER_MS', '0', /TAPWIRE_LISTEN_CLUSTER_MS/],
    ['TAPWIRE_LISTEN_EGRESS_LINGER_MS', '-1', /TAPWIRE_LISTEN_EGRESS_LINGER_MS/],
    ['TAPWIRE_LISTEN_JOIN_BURST_MS', '5001', /listenJoinBurstMs \(TAPWIRE_LISTEN_JOIN_BURST_MS\) must be an integer from 0 to 5000/],
    ['TAPWIRE_MAX_LISTENERS', '0', /maxListeners must be a positive integer/],
    ['TAPWIRE_MAX_LISTENERS_PER_STREAM', '-5', /maxListenersPerStream must be a positive integer/],
    ['TAPWIRE_LISTEN_GRACE_MS', '0', /listenGraceMs must be a positive integer/],
  ])('%s=%s is refused, naming the setting', (name, v, message) => {
    expect(typeError({ [name]: v }).message).toMatch(message);
  });

  it('wants the slow-listener threshold to let a join burst and the next cluster through, two clusters at least', () => {
    // 128 kbit/s in 2 s clusters: 32 KB a cluster; the 1 s burst is one cluster.
    expect(typeError({ TAPWIRE_LISTEN_BITRATE: '128000', TAPWIRE_LISTEN_CLUSTER_MS: '2000' }).message).toMatch(/at least 2 clusters \(64128 bytes/);
    expect(fromEnv({ TAPWIRE_LISTEN_BITRATE: '128000', TAPWIRE_LISTEN_CLUSTER_MS: '2000', TAPWIRE_LISTEN_BACKED_UP_BYTES: '64128' }).listenBackedUpBytes).toBe(64128);
    // 128 kbit/s in 200 ms clusters with a 3 s burst: 15 clusters and the next.
    expect(typeError({ TAPWIRE_LISTEN_BITRATE: '128000', TAPWIRE_LISTEN_JOIN_BURST_MS: '3000', TAPWIRE_LISTEN_BACKED_UP_BYTES: '40000' }).message).toMatch(/at least 16 clusters \(52224 bytes/);
  });
});

describe('WebRTC settings', () => {
  it('has the documented defaults', () => {
    expect(fromEnv({})).toMatchObject({ maxWhipSessions: 100, maxWhepSessions: 200, maxWhepSessionsPerStream: 50, webrtcConnectTimeoutMs: 10_000 });
  });

  it('reads every WebRTC variable', () => {
    expect(
      fromEnv({
        TAPWIRE_MAX_WHIP_SESSIONS: '7',
        TAPWIRE_MAX_WHEP_SESSIONS: '9',
        TAPWIRE_MAX_WHEP_SESSIONS_PER_STREAM: '3',
        TAPWIRE_WEBRTC_CONNECT_TIMEOUT_MS: '2500',
      }),
    ).toEqual({ ...defaultConfig(), maxWhipSessions: 7, maxWhepSessions: 9, maxWhepSessionsPerStream: 3, webrtcConnectTimeoutMs: 2500 });
  });

  it.each([
    ['TAPWIRE_MAX_WHIP_SESSIONS', '0', /maxWhipSessions must be a positive integer/],
    ['TAPWIRE_MAX_WHEP_SESSIONS_PER_STREAM', '-1', /maxWhepSessionsPerStream must be a positive integer/],
    ['TAPWIRE_WEBRTC_CONNECT_TIMEOUT_MS', 'soon', /TAPWIRE_WEBRTC_CONNECT_TIMEOUT_MS must be a number/],
  ])('%s=%s is refused, naming the setting', (name, v, message) => {
    expect(typeError({ [name]: v }).message).toMatch(message);
  });
});

describe('RTP ingest settings', () => {
  it('has the documented defaults', () => {
    const c = fromEnv({});
    expect([c.rtpPortMin, c.rtpPortMax]).toEqual([40000, 40999]);
    expect(c.maxRtpSessions).toBe(100);
    expect([c.rtpStartTimeoutMs, c.rtpIdleTimeoutMs, c.rtcpMinIntervalMs]).toEqual([30_000, 30_000, 5000]);
  });

  it('reads every TAPWIRE_*RTP* variable', () => {
    const c = fromEnv({
      TAPWIRE_RTP_PORTS: '50000 - 50009',
      TAPWIRE_MAX_RTP_SESSIONS: '3',
      TAPWIRE_RTP_START_TIMEOUT_MS: '1500',
      TAPWIRE_RTP_IDLE_TIMEOUT_MS: '2500',
      TAPWIRE_RTCP_MIN_INTERVAL_MS: '1000',
    });
    expect([c.rtpPortMin, c.rtpPortMax, c.maxRtpSessions, c.rtpStartTimeoutMs, c.rtpIdleTimeoutMs, c.rtcpMinIntervalMs]).toEqual([50000, 50009, 3, 1500, 2500, 1000]);
  });

  it.each([
    ['TAPWIRE_RTP_PORTS', '40000', /TAPWIRE_RTP_PORTS must be a range like 40000-40999/],
    ['TAPWIRE_RTP_PORTS', '40000-', /TAPWIRE_RTP_PORTS must be a range/],
    ['TAPWIRE_RTP_PORTS', '41000-40000', /must lie in 1024-65535 and hold an even port and the next, got 41000-40000/],
    ['TAPWIRE_RTP_PORTS', '40001-40002', /hold an even port and the next/],
    ['TAPWIRE_RTP_PORTS', '80-81', /must lie in 1024-65535/],
    ['TAPWIRE_RTP_PORTS', '65534-65536', /must lie in 1024-65535/],
    ['TAPWIRE_MAX_RTP_SESSIONS', '0', /maxRtpSessions must be a positive integer/],
    ['TAPWIRE_RTCP_MIN_INTERVAL_MS', '0', /rtcpMinIntervalMs must be a positive integer/],
  ])('%s=%s is refused, naming the setting', (name, v, message) => {
    expect(typeError({ [name]: v }).message).toMatch(message);
  });

  it('takes the smallest range: one even port and the next', () => {
    expect(fromEnv({ TAPWIRE_RTP_PORTS: '40001-40003' })).toMatchObject({ rtpPortMin: 40001, rtpPortMax: 40003 });
  });
});

describe('HTTPS settings', () => {
  it('is plain HTTP by default', () => {
    expect(defaultConfig()).toMatchObject({ tls: 'off', tlsCertFile: null, tlsKeyFile: null });
    expect(fromEnv({ TAPWIRE_TLS: '', TAPWIRE_TLS_CERT: '', TAPWIRE_TLS_KEY: '' })).toEqual(defaultConfig());
  });

  it('reads TAPWIRE_TLS and the certificate and key paths, resolved against the working directory', () => {
    expect(fromEnv({ TAPWIRE_TLS: 'local' }).tls).toBe('local');
    expect(fromEnv({ TAPWIRE_TLS: 'off' }).tls).toBe('off');
    const c = fromEnv({ TAPWIRE_TLS_CERT: 'certs/relay.pem', TAPWIRE_TLS_KEY: '/etc/tapwire/key.pem' });
    expect(c.tlsCertFile).toBe(resolve('certs/relay.pem'));
    expect(c.tlsKeyFile).toBe('/etc/tapwire/key.pem');
  });

  it.each([
    [{ TAPWIRE_TLS: 'yes' }, /TAPWIRE_TLS must be "local".*got "yes"/],
    [{ TAPWIRE_TLS_CERT: 'c.pem' }, /TAPWIRE_TLS_CERT is set but TAPWIRE_TLS_KEY is not/],
    [{ TAPWIRE_TLS_KEY: 'k.pem' }, /TAPWIRE_TLS_KEY is set but TAPWIRE_TLS_CERT is not/],
    [{ TAPWIRE_TLS: 'local', TAPWIRE_TLS_CERT: 'c.pem', TAPWIRE_TLS_KEY: 'k.pem' }, /TAPWIRE_TLS=local .* choose one/],
  ])('%o is refused, naming the variables', (env, message) => {
    expect(typeError(env).message).toMatch(message);
  });
});

describe('TAPWIRE_TRUSTED_PROXIES', () => {
  it('is empty by default: no X-Forwarded-For is believed', () => {
    expect(fromEnv({}).trustedProxies).toEqual([]);
    expect(fromEnv({ TAPWIRE_TRUSTED_PROXIES: '  ' }).trustedProxies).toEqual([]);
  });

  it('reads addresses and CIDR blocks of both families, separated by commas', () => {
    expect(fromEnv({ TAPWIRE_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8' }).trustedProxies).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it.each([
    ['localhost', /TAPWIRE_TRUSTED_PROXIES.*"localhost" is not an IP address or a CIDR block/],
    ['127.0.0.1,,10.0.0.1', /"" is not an IP address/],
    ['10.0.0.0/33', /"10.0.0.0\/33" has a prefix length that is not 0-32/],
    ['fd00::/129', /not 0-128/],
    ['10.0.0.0/8/1', /"10.0.0.0\/8\/1" is not an IP address/],
    ['10.0.0.0/x', /prefix length/],
    ['300.1.1.1', /"300.1.1.1" is not an IP address/],
  ])('TAPWIRE_TRUSTED_PROXIES=%s is refused, naming the entry', (v, message) => {
    expect(typeError({ TAPWIRE_TRUSTED_PROXIES: v }).message).toMatch(message);
  });
});
