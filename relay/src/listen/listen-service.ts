/**
 * Live listening on the control plane (`/ws/listen`, protocol/listen.ts, seed 002): takes a
 * listen socket once the route accepted its upgrade, checks its query and its stream id,
 * and hangs it on the egress stream of its (station, tap) (egress-stream.ts), which starts
 * the station's encoder for the first listener.
 *
 * - The stream id is the capability (seed 002 §14): valid while its station has not ended,
 *   and for the listen grace after (the registry answers, ended-streams.ts). A joiner within
 *   the grace gets `stream_metadata` then `stream_end`; an unknown or expired id gets 4404,
 *   with a message that says nothing about which ids exist.
 * - A listener who joins a station still waiting for its first audio waits with it: its
 *   egress starts when the registry says the station is `streaming`.
 * - A stream id may also name a trace's mix (every station of the call in one stream,
 *   media/mixer.ts): its egress source is the pool's mix handle, which exists before any
 *   station streams; the mix ends when the trace leaves the registry (`mixEnded`).
 * - The registry's `ended` event ends every listener of the station: `stream_end` and 1000.
 *   `close()` (SIGTERM) ends every listener with "relay shutting down" and 1001.
 * - Caps: listeners per relay and per client address are the route's (refused before the
 *   upgrade, listen-route.ts); listeners per stream are counted here (1013 after it).
 *
 * Logs name a stream by a short hash of its id (`stream`): the id itself is a secret.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  LISTEN_CHANNELS,
  LISTEN_CLOSE,
  LISTEN_ERROR_CLOSE,
  LISTEN_FRAME_MS,
  LISTEN_SAMPLE_RATE,
  type ListenErrorMessage,
  type ListenMode,
  type ListenTap,
  type StreamEndMessage,
} from '../../../protocol/listen.ts';
import type { Heartbeat } from '../http/heartbeat.ts';
import type { LiveMix, LiveRegistry, LiveStation, StreamSubject } from '../live/live-registry.ts';
import { LatencyHistogram } from '../media/latency-histogram.ts';
import type { TraceMixHandle } from '../media/trace-mix-handle.ts';
import type { ListenStreamStats } from '../../../protocol/api.ts';
import { LogThrottle } from '../logging/log-throttle.ts';
import type { LimitCounters } from '../metrics/limit-counters.ts';
import { EgressStream, type EgressStreamOptions } from './egress-stream.ts';
import { countDisconnect, newListenCounters, type ListenCounters, type ListenDisconnectReason } from './listen-counters.ts';
import { parseListenQuery } from './listen-messages.ts';
import { epochNowMs, Listener, type SlowListenerPolicy } from './listener.ts';

export interface ListenOptions extends EgressStreamOptions, SlowListenerPolicy {
  maxListenersPerStream: number;
}

/** The log lines the service writes (pino's signature: fields, then the message). */
export interface ListenLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ListenObserver {
  /** Upgrade to the first binary message, s. */
  timeToFirstByte(seconds: number): void;
  /** Ingest arrival to the bytes handed to the sockets, s. */
  ingestToSend(mode: ListenMode, seconds: number): void;
}

/** A station (or a trace's mix) with listeners: who listens, and its running egress streams. */
interface Audience {
  subject: StreamSubject;
  /** The mix's egress source, taken on its first stream and closed when the audience goes. */
  mixHandle: TraceMixHandle | null;
  /** A short hash of the stream id, for logs. */
  logId: string;
  listeners: Set<Listener>;
  streams: Map<ListenTap, EgressStream>;
  /** Its own figures (/api/relay/stats): joins, disconnects, what departed listeners left, latency. */
  joins: number;
  disconnects: Map<ListenDisconnectReason, number>;
  departed: { bytesSent: number; skips: number; clientStalls: number; clientDecodeErrors: number };
  latency: Record<ListenMode, LatencyHistogram>;
}

/** Close reasons of ended stations, as a listener reads them in `stream_end`. */
const END_REASONS: Readonly<Record<string, string>> = {
  stop: 'station stopped',
  disconnect: 'station disconnected',
  socket_error: 'station disconnected',
  heartbeat_timeout: 'station lost its connection',
  idle: 'station sent no audio for too long',
  media_worker_failed: 'station failed',
  relay_stop: 'relay shutting down',
  trace_ended: 'every station of the call has ended',
};
const SHUTTING_DOWN = 'relay shutting down';

/** What logs call a stream: 12 hex digits of the SHA-256 of its id (the id itself is a capability). */
export function streamLogId(streamId: string): string {
  return createHash('sha256').update(streamId).digest('hex').slice(0, 12);
}

export class ListenService {
  readonly counters: ListenCounters = newListenCounters();
  /** By the station or the mix they listen to. */
  private readonly audiences = new Map<LiveStation | LiveMix, Audience>();
  private readonly listeners = new Set<Listener>();
  private readonly modeCounts: Record<ListenMode, number> = { mse: 0, packets: 0 };
  private closed = false;
  private readonly slowLog = new LogThrottle(10_000);
  private readonly offRegistry: (() => void)[];

  constructor(
    private readonly registry: LiveRegistry,
    private readonly options: ListenOptions,
    private readonly heartbeat: Heartbeat,
    private readonly limits: LimitCounters,
    private readonly observer: ListenObserver,
    private readonly log: ListenLog,
    /** Listen sockets opened or closed (the relay samples event-loop lag while it has connections). */
    private readonly onCountChange: () => void = () => undefined,
  ) {
    this.offRegistry = [
      registry.on('streaming', (station) => this.onStreaming(station)),
      registry.on('ended', (station, reason) => this.onEnded(station, reason)),
      registry.on('mixEnded', (mix) => this.onEnded(mix, 'trace_ended')),
    ];
  }

  /** Listeners joined now, by mode. */
  get listenerCounts(): Readonly<Record<ListenMode, number>> {
    return this.modeCounts;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** (station, tap) encoders running for listeners (lingering ones included). */
  get egressStreamCount(): number {
    let n = 0;
    for (const a of this.audiences.values()) n += a.streams.size;
    return n;
  }

  /** Each stream with listeners or a running encoder, with its own figures (`/api/relay/stats`). */
  streamStats(): ListenStreamStats[] {
    return [...this.audiences.values()].map((a) => {
      const listeners = { mse: 0, packets: 0 };
      const sum = { ...a.departed };
      for (const l of a.listeners) {
        listeners[l.request.mode]++;
        sum.bytesSent += l.bytesSent;
        sum.skips += l.skipped;
        sum.clientStalls += l.clientStalls;
        sum.clientDecodeErrors += l.clientDecodeErrors;
      }
      const latency = (h: LatencyHistogram) => ({ count: h.count, p50: h.quantile(0.5), p99: h.quantile(0.99), max: h.maxMs });
      const { subject } = a;
      return {
        stream: a.logId,
        kind: subject.kind,
        trace_id: subject.kind === 'station' ? subject.station.traceId : subject.mix.traceId,
        station_key: subject.kind === 'station' ? subject.station.stationKey : null,
        listeners,
        joins: a.joins,
        disconnects: Object.fromEntries(a.disconnects),
        bytes_sent: sum.bytesSent,
        skips: sum.skips,
        client_stalls: sum.clientStalls,
        client_decode_errors: sum.clientDecodeErrors,
        encoders: [...a.streams.values()].filter((e) => !e.isStopped).map((e) => ({ tap: e.tap, packets: e.packets, restarts: e.encoderRestarts })),
        ingest_to_send_ms: { mse: latency(a.latency.mse), packets: latency(a.latency.packets) },
      };
    });
  }

  /** A socket the route upgraded: validate, look up, join (or refuse with an error and a close). */
  accept(socket: WebSocket, wire: Writable, query: unknown): void {
    const openedAtMs = epochNowMs();
    if (this.closed) {
      countDisconnect(this.counters, 'relay_shutdown');
      socket.send(JSON.stringify({ type: 'stream_end', reason: SHUTTING_DOWN } satisfies StreamEndMessage));
      socket.close(LISTEN_CLOSE.goingAway, SHUTTING_DOWN);
      return;
    }
    const parsed = parseListenQuery(query);
    if (!parsed.ok) return this.refuse(socket, 'bad_query', parsed.message);
    const request = parsed.value;
    const found = this.registry.lookupStream(request.streamId, Date.now());
    // The same words for an id never issued and one expired: nothing about which ids exist.
    if (found === undefined) return this.refuse(socket, 'not_found', 'no such stream: the link may be wrong, or its station ended a while ago');
    const subject = found.subject;
    const audience = this.audiences.get(subjectKey(subject));
    if (found.state === 'live' && (audience?.listeners.size ?? 0) >= this.options.maxListenersPerStream) {
      this.limits.count('listeners_per_stream');
      return this.refuse(socket, 'stream_full', `this stream has ${this.options.maxListenersPerStream} listeners, its limit; try again later`);
    }

    const listener = new Listener(socket, wire, request, openedAtMs, this.options, this.counters, (s) => this.observer.timeToFirstByte(s));
    listener.sendText({
      type: 'stream_metadata',
      codec: 'opus',
      container: request.mode === 'mse' ? 'webm' : 'none',
      sampleRate: LISTEN_SAMPLE_RATE,
      channels: LISTEN_CHANNELS,
      ...(subject.kind === 'station'
        ? { trace_id: subject.station.traceId, station_key: subject.station.stationKey, label: subject.station.label }
        : { trace_id: subject.mix.traceId, station_key: null, label: subject.mix.callId === null ? 'the whole call' : `the whole call ${subject.mix.callId}` }),
      tap: request.tap,
      mode: request.mode,
      bitrate: this.options.bitrate,
      frame_ms: LISTEN_FRAME_MS,
    });
    if (found.state === 'ended') {
      countDisconnect(this.counters, 'stream_ended');
      listener.end(END_REASONS[found.reason] ?? 'station ended', LISTEN_CLOSE.normal, 'stream_ended');
      return;
    }
    this.join(listener, audience ?? this.newAudience(subject));
  }

  /** A refusal after the upgrade: an `error` with its code, then the close that goes with it. */
  private refuse(socket: WebSocket, code: 'bad_query' | 'not_found' | 'stream_full', message: string): void {
    countDisconnect(this.counters, code);
    socket.send(JSON.stringify({ type: 'error', code, message } satisfies ListenErrorMessage));
    socket.close(LISTEN_ERROR_CLOSE[code], message.slice(0, 120));
  }

  private newAudience(subject: StreamSubject): Audience {
    const streamId = subject.kind === 'station' ? subject.station.streamId : subject.mix.mixStreamId;
    const audience: Audience = {
      subject,
      mixHandle: null,
      logId: streamLogId(streamId),
      listeners: new Set(),
      streams: new Map(),
      joins: 0,
      disconnects: new Map(),
      departed: { bytesSent: 0, skips: 0, clientStalls: 0, clientDecodeErrors: 0 },
      latency: { mse: new LatencyHistogram(), packets: new LatencyHistogram() },
    };
    this.audiences.set(subjectKey(subject), audience);
    return audience;
  }

  private join(listener: Listener, audience: Audience): void {
    const { mode } = listener.request;
    audience.listeners.add(listener);
    audience.joins++;
    this.listeners.add(listener);
    this.modeCounts[mode]++;
    this.counters.joins[mode]++;
    this.onCountChange();
    const socket = listener.socket;
    this.heartbeat.add(socket, () => listener.heartbeatLost());
    socket.once('close', () => this.leave(listener, audience));
    // A station waiting for its first audio has no pipeline yet: the egress starts with it (onStreaming).
    if (audience.subject.kind === 'mix' || audience.subject.station.handle !== null) this.streamFor(audience, listener.request.tap).add(listener);
  }

  private leave(listener: Listener, audience: Audience): void {
    if (!this.listeners.delete(listener)) return;
    this.modeCounts[listener.request.mode]--;
    audience.listeners.delete(listener);
    audience.streams.get(listener.request.tap)?.remove(listener);
    const reason = listener.closeReason ?? 'client_closed';
    countDisconnect(this.counters, reason);
    audience.disconnects.set(reason, (audience.disconnects.get(reason) ?? 0) + 1);
    const d = audience.departed;
    d.bytesSent += listener.bytesSent;
    d.skips += listener.skipped;
    d.clientStalls += listener.clientStalls;
    d.clientDecodeErrors += listener.clientDecodeErrors;
    if (reason === 'too_slow') {
      this.limits.count('listener_too_slow');
      const held = this.slowLog.take(audience.logId, Date.now());
      if (held !== null) {
        this.log.warn(
          { stream: audience.logId, tap: listener.request.tap, mode: listener.request.mode, skipped: listener.skipped, held_back: held },
          `listener closed (4008): over ${this.options.backedUpBytes} bytes unsent for ${this.options.backedUpMs} ms`,
        );
      }
    }
    this.dropIfDone(audience);
    this.onCountChange();
  }

  /** The audience's egress stream for a tap, started if need be. */
  private streamFor(audience: Audience, tap: ListenTap): EgressStream {
    let stream = audience.streams.get(tap);
    if (stream !== undefined && !stream.isStopped) return stream;
    const { logId, subject } = audience;
    let source;
    if (subject.kind === 'mix') {
      source = audience.mixHandle ??= this.registry.mixSource(subject.mix);
    } else {
      source = subject.station.handle;
      if (source === null) throw new Error('streamFor() before the station has a pipeline');
    }
    stream = new EgressStream(source, tap, this.options, {
      latency: (mode, s) => {
        this.observer.ingestToSend(mode, s);
        audience.latency[mode].record(s * 1000);
      },
      idle: (s) => this.onStreamIdle(audience, s),
      warn: (message, err) => this.log.warn({ stream: logId, tap, err }, message),
    });
    audience.streams.set(tap, stream);
    this.log.info({ stream: logId, tap, bitrate: this.options.bitrate }, 'listen egress started');
    return stream;
  }

  private onStreamIdle(audience: Audience, stream: EgressStream): void {
    if (audience.streams.get(stream.tap) === stream) audience.streams.delete(stream.tap);
    this.log.info({ stream: audience.logId, tap: stream.tap, packets: stream.packets }, 'listen egress stopped: no listener left');
    this.dropIfDone(audience);
  }

  private dropIfDone(audience: Audience): void {
    if (audience.listeners.size > 0 || audience.streams.size > 0) return;
    this.audiences.delete(subjectKey(audience.subject));
    audience.mixHandle?.close();
    audience.mixHandle = null;
  }

  private onStreaming(station: LiveStation): void {
    const audience = this.audiences.get(station);
    if (audience === undefined) return;
    for (const l of audience.listeners) if (!l.closed) this.streamFor(audience, l.request.tap).add(l);
  }

  private onEnded(subject: LiveStation | LiveMix, reason: string): void {
    const audience = this.audiences.get(subject);
    if (audience === undefined) return;
    this.endAudience(audience, END_REASONS[reason] ?? 'station ended', LISTEN_CLOSE.normal, 'stream_ended');
  }

  private endAudience(audience: Audience, text: string, code: typeof LISTEN_CLOSE.normal | typeof LISTEN_CLOSE.goingAway, reason: 'stream_ended' | 'relay_shutdown'): void {
    for (const stream of audience.streams.values()) stream.stop();
    audience.streams.clear();
    for (const l of audience.listeners) l.end(text, code, reason);
    // The sockets' close events take the listeners out (leave), then the audience goes.
    this.dropIfDone(audience);
  }

  /** SIGTERM: every listener gets `stream_end` ("relay shutting down") and 1001; later joiners too. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offRegistry) off();
    for (const audience of [...this.audiences.values()]) this.endAudience(audience, SHUTTING_DOWN, LISTEN_CLOSE.goingAway, 'relay_shutdown');
  }
}

/** The object an audience is kept by: the station, or the trace's mix. */
function subjectKey(subject: StreamSubject): LiveStation | LiveMix {
  return subject.kind === 'station' ? subject.station : subject.mix;
}
