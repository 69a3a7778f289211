/**
 * The relay's RTP sessions: opening one (validate, check the cap, bind a port pair, reserve
 * the station), finding, listing and closing them, and closing the quiet ones.
 *
 * Resources are bounded: at most `maxRtpSessions` sessions; ports only from the configured
 * range, RTP on an even port and RTCP on the next; a session that gets no packet within the
 * start timeout, or hears nothing from its sender for the idle timeout, is closed and its
 * ports freed. Refusals are ApiErrors with their codes (protocol/errors.ts).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { RTP_CODEC_SPECS, type RtpCodec, type RtpSessionInfo } from '../../../protocol/rtp.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { IngestCounters } from '../ingest/ingest-counters.ts';
import type { LiveRegistry, LiveStation, StationClient } from '../live/live-registry.ts';
import { RtpSession } from './rtp-session.ts';

export interface RtpOpenRequest {
  codec: RtpCodec;
  payloadType?: number;
  clockRate?: number;
  channels?: number;
  ptimeMs?: number | null;
  traceId?: string;
  stationKey?: string;
  label?: string | null;
  callId?: string | null;
}

type RtpConfig = Pick<RelayConfig, 'host' | 'rtpPortMin' | 'rtpPortMax' | 'maxRtpSessions' | 'rtpStartTimeoutMs' | 'rtpIdleTimeoutMs' | 'rtcpMinIntervalMs'>;

export interface RtpSessionsDeps {
  config: RtpConfig;
  registry: LiveRegistry;
  counters: IngestCounters;
  log?: { info(fields: object, message: string): void };
}

/** Checks a request against its codec's RTP conventions; throws invalid_request naming the field. */
export function checkCodecParameters(r: RtpOpenRequest): { payloadType: number | null; clockRate: number } {
  const spec = RTP_CODEC_SPECS[r.codec];
  let payloadType: number | null = r.payloadType ?? spec.staticPayloadType;
  if (spec.staticPayloadType === null) {
    if (payloadType !== null && (payloadType < 96 || payloadType > 127)) {
      throw new ApiError('invalid_request', `payload_type: ${r.codec} takes a dynamic payload type, 96 to 127 (got ${payloadType}); omit it to take the first one that arrives`);
    }
  } else if (payloadType !== spec.staticPayloadType && (payloadType === null || payloadType < 96)) {
    throw new ApiError('invalid_request', `payload_type: ${r.codec} is payload type ${spec.staticPayloadType} (RFC 3551), or a dynamic one 96 to 127; got ${payloadType}`);
  }
  payloadType ??= null;
  const clockRate = r.clockRate ?? spec.clockRate;
  if (clockRate !== spec.clockRate) {
    const note = r.codec === 'g722' ? ' (G.722 codes 16 kHz audio but its RTP clock runs at 8000, RFC 3551 §4.5.2)' : '';
    throw new ApiError('invalid_request', `clock_rate: ${r.codec}'s RTP clock is ${spec.clockRate} Hz, got ${clockRate}${note}`);
  }
  const channels = r.channels ?? spec.channels;
  if (r.codec === 'opus' ? channels !== 1 && channels !== 2 : channels !== 1) {
    throw new ApiError('invalid_request', `channels: ${r.codec} over RTP is ${r.codec === 'opus' ? '2 (opus/48000/2, RFC 7587) or 1' : '1 (mono)'}, got ${channels}`);
  }
  return { payloadType, clockRate };
}

export class RtpSessions {
  private readonly sessions = new Map<string, RtpSession>();
  private readonly byStation = new Map<LiveStation, RtpSession>();
  /** Even RTP ports held by our sessions (binding is tried only on the others). */
  private readonly portsInUse = new Set<number>();
  /** Where the search for a free pair starts: after the last one taken, so ports rotate. */
  private cursor: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: RtpSessionsDeps) {
    this.cursor = this.firstEvenPort;
    // A station ended by someone else (relay stop, a media worker lost) closes its session.
    deps.registry.on('ended', (station, reason) => this.byStation.get(station)?.close(reason));
  }

  private get firstEvenPort(): number {
    const min = this.deps.config.rtpPortMin;
    return min + (min % 2);
  }

  get count(): number {
    return this.sessions.size;
  }

  /** Opens a session; `host` is the address the sender is told (the bound one unless a wildcard). */
  async open(r: RtpOpenRequest, client: StationClient, host: string): Promise<RtpSession> {
    const c = this.deps.config;
    if (this.stopped) throw new ApiError('relay_busy', 'the relay is shutting down');
    const { payloadType, clockRate } = checkCodecParameters(r);
    if (this.sessions.size >= c.maxRtpSessions) {
      throw new ApiError('rtp_sessions_full', `the relay has ${c.maxRtpSessions} RTP sessions open, as many as it takes (TAPWIRE_MAX_RTP_SESSIONS); close one or retry later`, { 'Retry-After': '10' });
    }
    const pair = await this.bindPair();
    if (pair === null) {
      throw new ApiError('rtp_ports_exhausted', `every RTP/RTCP port pair of ${c.rtpPortMin}-${c.rtpPortMax} (TAPWIRE_RTP_PORTS) is taken; close a session or widen the range`, { 'Retry-After': '10' });
    }
    const [rtp, rtcp] = pair;
    const spec = RTP_CODEC_SPECS[r.codec];
    const reserved = this.deps.registry.reserve({
      traceId: r.traceId,
      stationKey: r.stationKey,
      label: r.label ?? null,
      callId: r.callId ?? null,
      codec: r.codec,
      sampleRate: spec.sampleRate,
      transport: 'rtp',
      client,
    });
    if (!reserved.ok) {
      this.release(rtp, rtcp);
      if ('limit' in reserved) throw new ApiError('relay_busy', reserved.message, { 'Retry-After': '10' });
      throw new ApiError('invalid_request', `${reserved.field}: ${reserved.message}`);
    }
    const id = `rtp_${randomBytes(9).toString('base64url')}`;
    const session = new RtpSession({
      id,
      host,
      rtp,
      rtcp,
      codec: r.codec,
      payloadType,
      clockRate,
      ptimeMs: r.ptimeMs ?? null,
      station: reserved.station,
      registry: this.deps.registry,
      counters: this.deps.counters,
      startTimeoutMs: c.rtpStartTimeoutMs,
      idleTimeoutMs: c.rtpIdleTimeoutMs,
      rtcpMinIntervalMs: c.rtcpMinIntervalMs,
      onClosed: (s, reason) => this.forget(s, reason),
    });
    this.sessions.set(id, session);
    this.byStation.set(reserved.station, session);
    this.watch();
    this.deps.log?.info({ session_id: id, port: session.port, trace_id: reserved.station.traceId, station_key: reserved.station.stationKey, codec: r.codec }, 'RTP session opened');
    return session;
  }

  get(id: string): RtpSession {
    const s = this.sessions.get(id);
    if (s === undefined) throw new ApiError('rtp_session_not_found', `no open RTP session "${id}"; it was never opened or has closed`);
    return s;
  }

  list(): RtpSessionInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  /** Closes a session (our BYE goes out) and returns its final state. */
  close(id: string, reason: string): RtpSessionInfo {
    const s = this.get(id);
    s.close(reason);
    return s.info();
  }

  /** Relay stop: every session closes (BYE sent), nothing new opens. */
  closeAll(reason: string): void {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) s.close(reason);
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private forget(s: RtpSession, reason: string): void {
    this.sessions.delete(s.id);
    this.byStation.delete(s.station);
    this.portsInUse.delete(s.port);
    this.deps.log?.info({ session_id: s.id, reason, ...s.info().stats }, 'RTP session closed');
  }

  /** The start and idle timeouts, checked only while there are sessions. */
  private watch(): void {
    if (this.timer !== null) return;
    const { rtpStartTimeoutMs, rtpIdleTimeoutMs } = this.deps.config;
    this.timer = setInterval(() => {
      if (this.sessions.size === 0) {
        clearInterval(this.timer as NodeJS.Timeout);
        this.timer = null;
        return;
      }
      const now = Date.now();
      for (const s of [...this.sessions.values()]) s.checkTimeouts(now);
    }, Math.max(20, Math.min(1000, rtpStartTimeoutMs / 4, rtpIdleTimeoutMs / 4)));
    this.timer.unref();
  }

  /** Binds an even port and the next, from the cursor round the range; null when none is free. */
  private async bindPair(): Promise<[Socket, Socket] | null> {
    const { rtpPortMax, host } = this.deps.config;
    const first = this.firstEvenPort;
    const pairs = Math.floor((rtpPortMax - first + 1) / 2);
    for (let i = 0; i < pairs; i++) {
      const port = first + ((this.cursor - first + 2 * i) % (2 * pairs));
      if (this.portsInUse.has(port)) continue;
      const rtp = await bind(host, port);
      if (rtp === null) continue;
      const rtcp = await bind(host, port + 1);
      if (rtcp === null) {
        rtp.close();
        continue;
      }
      this.portsInUse.add(port);
      this.cursor = port + 2 > rtpPortMax - 1 ? first : port + 2;
      return [rtp, rtcp];
    }
    return null;
  }

  private release(rtp: Socket, rtcp: Socket): void {
    this.portsInUse.delete(rtp.address().port);
    rtp.close();
    rtcp.close();
  }
}

/** A UDP socket bound to host:port, or null when the port is taken (or refused). */
function bind(host: string, port: number): Promise<Socket | null> {
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
  return new Promise((resolve) => {
    const onError = (): void => {
      socket.close();
      resolve(null);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
