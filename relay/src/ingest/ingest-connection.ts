/**
 * One ingest WebSocket (`GET /ws/ingest`): the `start` handshake, then audio as binary
 * frames (seed 004 §1.4) or seed 001's base64 `audio` messages. Both reach a station the
 * same way: a depacketizer makes packets of them (depacketizer.ts), and the connection,
 * which owns its stations' handles, pushes the packets in and hears the stations' events.
 *
 * Bad input never loses what was accepted: a bad frame or message is counted and reported
 * with an `error` message and the station goes on. Only a bad `start` (close 1008) and an
 * oversized message (close 1009) end the connection, and then the stations already
 * streaming end cleanly, as on `stop`.
 *
 * Nothing a connection does holds the relay's resources for ever: a station cap refuses a
 * `start` (close 1013), a connection with no `start` in time is closed (4408), a station
 * that sends no audio for the idle timeout ends (its last bucket finalized, as on
 * disconnect), and a peer that stops answering pings is cut (heartbeat.ts).
 *
 * A connection whose first text message is Twilio's `connected` or `start` speaks Twilio
 * Media Streams instead (protocol/twilio.ts): its `start` opens the station as a pcmu start
 * would, its inbound `media` messages are depacketized by twilio-depacketizer.ts, and its
 * `stop` is a `stop`. What the relay does not use (outbound media, marks, DTMF) is counted
 * and the counts ride on `stopped`.
 */
import type { WebSocket } from 'ws';
import { parseClientMessage, type AudioMessage, type IngestServerMessage, type StartMessage } from '../../../protocol/ingest.ts';
import { CLOSE } from '../errors.ts';
import type { LiveRegistry, LiveStation, ReserveResult, StationClient } from '../live/live-registry.ts';
import type { StationHandle } from '../media/station-handle.ts';
import type { LimitCounters } from '../metrics/limit-counters.ts';
import type { Depacketized, Depacketizer } from './depacketizer.ts';
import { ErrorReporter } from './error-reporter.ts';
import { FrameDepacketizer } from './frame-depacketizer.ts';
import type { IngestCounters } from './ingest-counters.ts';
import { JsonAudioDepacketizer } from './json-audio-depacketizer.ts';
import { TwilioDepacketizer, type TwilioMediaEvent } from './twilio-depacketizer.ts';
import { opensTwilioStream, parseTwilioMessage, type TwilioEvent } from './twilio-messages.ts';

export interface IngestLimits {
  maxMessageBytes: number;
  maxSourcesPerConnection: number;
  bucketMs: number;
  /** No `start` within this closes the connection (4408). */
  startTimeoutMs: number;
  /** A station with no audio for this long ends. */
  stationIdleTimeoutMs: number;
}

/** A station of this connection and how its audio becomes packets. */
interface Feed<Message> {
  station: LiveStation;
  depacketizer: Depacketizer<Message>;
}

const frames = new FrameDepacketizer();

/** A Twilio Media Stream's connection: its station once `start` came, and what it ignored. */
interface TwilioStream {
  feed: Feed<TwilioMediaEvent> | null;
  ignored: { outbound_media: number; mark: number; dtmf: number };
}

export class IngestConnection {
  private start: StartMessage | null = null;
  /** The station `start` made: binary frames go to it, and `audio` messages without a source. */
  private primary: Feed<Uint8Array> | null = null;
  private primaryJson: Feed<AudioMessage> | null = null;
  /** Seed 001: one station per `source` of `audio` messages. */
  private readonly sources = new Map<string, Feed<AudioMessage>>();
  /** Set by the first text message when it is Twilio's. */
  private twilio: TwilioStream | null = null;
  private readonly errors: ErrorReporter;
  private closed = false;
  private readonly openedAtMs = Date.now();
  /** Why the socket is closing, when the relay knows better than "disconnect". */
  private closeReason: string | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly registry: LiveRegistry,
    private readonly limits: IngestLimits,
    private readonly counters: IngestCounters,
    private readonly client: StationClient,
    private readonly limitCounters: LimitCounters,
  ) {
    this.errors = new ErrorReporter((msg) => this.send(msg));
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('close', () => this.onClose(this.closeReason ?? 'disconnect'));
    socket.on('error', () => this.onClose('socket_error'));
  }

  /** The peer stopped answering pings: its stations end with that reason as the socket is cut. */
  heartbeatLost(): void {
    this.closeReason = 'heartbeat_timeout';
  }

  /**
   * Periodic check (relay.ts): a connection that never sent `start` is closed, and each
   * station that has sent no audio for the idle timeout ends; when none is left, the
   * connection closes.
   */
  checkTimeouts(nowMs: number): void {
    if (this.closed) return;
    if (this.start === null) {
      if (nowMs - this.openedAtMs <= this.limits.startTimeoutMs) return;
      this.limitCounters.count('start_timeout');
      this.close(CLOSE.timeout, 'start_timeout', `no "start" within ${this.limits.startTimeoutMs} ms of connecting`, 'start_timeout');
      return;
    }
    const stations = this.stations();
    for (const s of stations) {
      if (s.ended || nowMs - s.lastAudioMs <= this.limits.stationIdleTimeoutMs) continue;
      this.limitCounters.count('station_idle');
      this.registry.end(s, 'idle', nowMs);
      this.errors.report('idle_timeout', `station ${s.stationKey} sent no audio for ${this.limits.stationIdleTimeoutMs} ms and has ended`, { station_key: s.stationKey }, true);
    }
    if (stations.every((s) => s.ended)) {
      this.close(CLOSE.timeout, 'idle_timeout', `no audio for ${this.limits.stationIdleTimeoutMs} ms`, 'idle');
    }
  }

  private stations(): LiveStation[] {
    const out: LiveStation[] = [];
    if (this.primary !== null) out.push(this.primary.station);
    for (const f of this.sources.values()) out.push(f.station);
    return out;
  }

  /** Sends an `error` with this code, then closes with `closeCode`; the stations end with `reason`. */
  private close(closeCode: number, code: string, message: string, reason: string): void {
    this.closeReason = reason;
    this.errors.report(code, message, {}, true);
    this.socket.close(closeCode, message.slice(0, 120));
    this.onClose(reason);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    const arrivalMs = performance.timeOrigin + performance.now();
    if (data.length > this.limits.maxMessageBytes) {
      this.counters.protocolErrors++;
      this.errors.report('message_too_big', `messages are limited to ${this.limits.maxMessageBytes} bytes; got ${data.length}`, {}, true);
      this.socket.close(CLOSE.messageTooBig, 'message too big');
      return;
    }
    if (isBinary) {
      if (this.twilio !== null) {
        this.counters.protocolErrors++;
        this.errors.report('unexpected_binary', 'a Twilio Media Stream sends JSON text messages only; binary frames belong to Tapwire\'s own start');
        return;
      }
      if (this.primary === null) {
        this.counters.protocolErrors++;
        this.errors.report('not_started', 'binary audio before "start": send {"type":"start",...} first');
        return;
      }
      this.feed(this.primary, data, arrivalMs);
    } else {
      this.onText(data.toString('utf8'), arrivalMs);
    }
  }

  /** The one way audio reaches a station, whatever the message: depacketize, then push into its handle. */
  private feed<Message>(f: Feed<Message>, message: Message, arrivalMs: number): void {
    const { station } = f;
    const d: Depacketized = f.depacketizer.depacketize(message);
    if (!d.ok) {
      this.counters.protocolErrors++;
      this.errors.report(d.code, d.message, { station_key: station.stationKey });
      return;
    }
    if (station.ended) {
      this.counters.protocolErrors++;
      this.errors.report('station_ended', `station ${station.stationKey} has ended; open a new connection to stream again`, { station_key: station.stationKey });
      return;
    }
    const { packet } = d;
    this.counters.framesReceived++;
    this.counters.bytesReceived += packet.payload.length;
    const now = Date.now();
    station.lastAudioMs = now;
    const handle = station.handle ?? this.attach(station, this.registry.materialize(station, now));
    handle.push(packet.timestampMs, packet.sequence, packet.codec, packet.flags, arrivalMs, packet.payload);
  }

  /** This connection owns the station's pipeline: it listens to what the pipeline reports. */
  private attach(station: LiveStation, handle: StationHandle): StationHandle {
    const key = station.stationKey;
    handle.on('status', (state, droppedFrames, queueDepth) => this.send({ type: 'status', state, station_key: key, dropped_frames: droppedFrames, queue_depth: queueDepth }));
    handle.on('decodeError', (code, message) => {
      this.counters.decodeErrors++;
      this.errors.report(code, message, { station_key: key });
    });
    handle.on('lost', (err) => {
      this.errors.report('station_lost', `station ${key} stopped: the media worker failed (${err.message})`, { station_key: key }, true);
      this.socket.close(CLOSE.internalError, 'media pipeline failed');
    });
    return handle;
  }

  private onText(text: string, arrivalMs: number): void {
    if (this.twilio !== null || (this.start === null && opensTwilioStream(text))) {
      this.twilio ??= { feed: null, ignored: { outbound_media: 0, mark: 0, dtmf: 0 } };
      this.onTwilioText(this.twilio, text, arrivalMs);
      return;
    }
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.refuseMessage(parsed);
      return;
    }
    const msg = parsed.value;
    switch (msg.type) {
      case 'start':
        this.onStart(msg);
        break;
      case 'stop':
        this.onStop();
        break;
      case 'audio':
        this.onAudio(msg, arrivalMs);
        break;
    }
  }

  private onTwilioText(tw: TwilioStream, text: string, arrivalMs: number): void {
    const parsed = parseTwilioMessage(text);
    if (!parsed.ok) {
      this.refuseMessage(parsed);
      return;
    }
    const msg: TwilioEvent = parsed.value;
    switch (msg.event) {
      case 'connected':
        break;
      case 'start':
        // Twilio's start is a pcmu start: 8000 Hz, 20 ms, the call's callSid as call_id.
        this.onStart({ type: 'start', codec: 'pcmu', sample_rate: 8000, channels: 1, frame_ms: 20, label: msg.label, call_id: msg.callSid });
        if (this.primary !== null && tw.feed === null) tw.feed = { station: this.primary.station, depacketizer: new TwilioDepacketizer() };
        break;
      case 'media':
        if (tw.feed === null) {
          this.counters.protocolErrors++;
          this.errors.report('not_started', 'Twilio "media" before "start"');
        } else if (msg.track !== 'inbound') {
          tw.ignored.outbound_media++;
        } else {
          this.feed(tw.feed, msg, arrivalMs);
        }
        break;
      case 'mark':
        // Acknowledged only by a server that sends audio back; the relay does not.
        tw.ignored.mark++;
        break;
      case 'dtmf':
        tw.ignored.dtmf++;
        break;
      case 'stop':
        this.onStop();
        break;
    }
  }

  private onStart(msg: StartMessage): void {
    if (this.start !== null) {
      this.counters.protocolErrors++;
      this.errors.report('already_started', 'this connection has already started; open another connection for another station');
      return;
    }
    const reserved = this.registry.reserve({
      traceId: msg.trace_id,
      stationKey: msg.station_key,
      label: msg.label ?? null,
      callId: msg.call_id ?? null,
      codec: msg.codec,
      sampleRate: msg.sample_rate,
      client: this.client,
    });
    if (!reserved.ok) {
      if ('limit' in reserved) this.refuseAtCapacity(reserved);
      else this.failStart('bad_start', reserved.message, reserved.field);
      return;
    }
    this.start = msg;
    const s = reserved.station;
    this.primary = { station: s, depacketizer: frames };
    this.send({ type: 'started', trace_id: s.traceId, station_key: s.stationKey, stream_id: s.streamId, mix_stream_id: s.mixStreamId, bucket_ms: this.limits.bucketMs });
  }

  /** A message that did not parse (either dialect): a wrong start closes 1008 naming its field; anything else is reported and the connection goes on. */
  private refuseMessage(failure: { code: string; message: string; field?: string }): void {
    if (failure.code === 'bad_start' && this.start === null) {
      // Nothing can follow a start that is wrong: say which field, then close 1008.
      this.failStart(failure.code, failure.message, failure.field);
      return;
    }
    this.counters.protocolErrors++;
    this.errors.report(failure.code, failure.message, failure.field === undefined ? {} : { field: failure.field });
  }

  /** A station cap is reached: say which, and close with 1013 (try again later). */
  private refuseAtCapacity(r: Extract<ReserveResult, { limit: string }>): void {
    this.counters.protocolErrors++;
    this.limitCounters.count(r.limit);
    this.send({ type: 'error', code: r.code, message: r.message });
    this.socket.close(CLOSE.tryAgainLater, r.message.slice(0, 120));
  }

  private failStart(code: string, message: string, field?: string): void {
    this.counters.protocolErrors++;
    this.send(field === undefined ? { type: 'error', code, message } : { type: 'error', code, message, field });
    this.socket.close(CLOSE.policyViolation, `${field ?? code}: ${message}`.slice(0, 120));
  }

  private onStop(): void {
    const ended = this.endAll('stop');
    if (this.start !== null && this.primary !== null) {
      const stopped: IngestServerMessage = { type: 'stopped', trace_id: this.primary.station.traceId, station_keys: ended };
      if (this.twilio !== null) stopped.ignored = { ...this.twilio.ignored };
      this.send(stopped);
    }
    this.socket.close(CLOSE.normal, 'stopped');
  }

  private onAudio(msg: AudioMessage, arrivalMs: number): void {
    if (this.start === null || this.primary === null) {
      this.counters.protocolErrors++;
      this.errors.report('not_started', 'audio before "start": send {"type":"start","codec":"pcm16",...} first');
      return;
    }
    if (this.start.codec !== 'pcm16') {
      this.counters.protocolErrors++;
      this.errors.report('codec_mismatch', `"audio" messages carry base64 PCM16LE; this connection started with codec ${this.start.codec}`);
      return;
    }
    const f = msg.source === undefined ? this.primaryAudio() : this.sourceFeed(msg.source);
    if (f !== null) this.feed(f, msg, arrivalMs);
  }

  /** `audio` without a source goes to the station `start` made. */
  private primaryAudio(): Feed<AudioMessage> {
    const station = (this.primary as Feed<Uint8Array>).station;
    this.primaryJson ??= { station, depacketizer: new JsonAudioDepacketizer(station.sampleRate) };
    return this.primaryJson;
  }

  /** Seed 001: each distinct `source` is its own station in the trace. */
  private sourceFeed(source: string): Feed<AudioMessage> | null {
    const known = this.sources.get(source);
    if (known !== undefined) return known;
    if (this.sources.size >= this.limits.maxSourcesPerConnection) {
      this.counters.protocolErrors++;
      this.errors.report('too_many_sources', `at most ${this.limits.maxSourcesPerConnection} sources per connection`, { field: 'source' });
      return null;
    }
    const start = this.start as StartMessage;
    const traceId = (this.primary as Feed<Uint8Array>).station.traceId;
    const reserved = this.registry.reserve({
      traceId,
      stationKey: this.registry.keyForSource(traceId, source),
      label: source,
      callId: null,
      codec: 'pcm16',
      sampleRate: start.sample_rate,
      client: this.client,
    });
    if (!reserved.ok) {
      if ('limit' in reserved) {
        this.limitCounters.count(reserved.limit);
        this.errors.report(reserved.code, reserved.message, { field: 'source' });
      } else {
        this.errors.report('bad_source', reserved.message, { field: 'source' });
      }
      return null;
    }
    const s = reserved.station;
    const f: Feed<AudioMessage> = { station: s, depacketizer: new JsonAudioDepacketizer(s.sampleRate) };
    this.sources.set(source, f);
    this.send({ type: 'started', trace_id: s.traceId, station_key: s.stationKey, stream_id: s.streamId, mix_stream_id: s.mixStreamId, bucket_ms: this.limits.bucketMs, source });
    return f;
  }

  private endAll(reason: string): string[] {
    const now = Date.now();
    const ended: string[] = [];
    for (const s of this.stations()) {
      if (s.ended) continue;
      if (s.handle !== null) ended.push(s.stationKey);
      this.registry.end(s, reason, now);
    }
    return ended;
  }

  private onClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endAll(reason);
  }

  private send(msg: IngestServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify(msg));
  }
}
