/**
 * WebRTC on the relay: WHIP sessions that stream a station, WHEP sessions that listen to
 * one. The routes (whip-route.ts) only parse and answer; this holds the sessions, their
 * caps and the registry events that concern them.
 *
 * Caps: WHIP sessions on the relay (`maxWhipSessions`), and the station caps of the
 * registry that every ingest obeys; WHEP sessions on the relay (`maxWhepSessions`) and per
 * stream (`maxWhepSessionsPerStream`). A refusal is an ApiError the route answers with
 * (503 relay_busy with Retry-After).
 */
import type { MediaStreamTrack } from 'werift';
import { ApiError } from '../errors.ts';
import type { LiveRegistry, LiveStation, StationClient } from '../live/live-registry.ts';
import type { EgressOptions } from '../media/station-handle.ts';
import type { LimitCounters } from '../metrics/limit-counters.ts';
import { newPeerConnection, closePeer } from './peer.ts';
import { checkOffer, opusPayloadTypeOf, withInbandFec } from './sdp-offer.ts';
import { WhepAudience } from './whep-audience.ts';
import { WhepSession } from './whep-session.ts';
import { WhipSession } from './whip-session.ts';

export interface WebRtcOptions {
  maxWhipSessions: number;
  maxWhepSessions: number;
  maxWhepSessionsPerStream: number;
  /** ICE and DTLS must be up within this after the answer, ms. */
  connectTimeoutMs: number;
  /** A WHIP station with no audio for this long ends, ms; a WHEP session with no RTCP from its player for this long closes. */
  idleTimeoutMs: number;
  /** The egress encoder's settings: the listen service's, so both share one encoder. */
  egress: EgressOptions;
}

export interface WebRtcDeps {
  registry: LiveRegistry;
  limits: LimitCounters;
  /** True while /ws/listen runs a POST encoder for the station. */
  listenEncoderRunning(station: LiveStation): boolean;
  /** Bytes of RTP payload received (the relay's ingest counters). */
  received(bytes: number): void;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

/** What a station is called by the WHIP query (all optional). */
export interface WhipIdentity {
  traceId?: string;
  stationKey?: string;
  label?: string;
}

export interface WhipCreated {
  sessionId: string;
  answer: string;
  station: LiveStation;
}

export interface WhepCreated {
  sessionId: string;
  answer: string;
}

/** Seconds a refused client is told to wait before it tries again. */
const RETRY_AFTER_S = '5';

export class WebRtcService {
  private readonly whip = new Map<string, WhipSession>();
  private readonly whep = new Map<string, WhepSession>();
  private readonly audiences = new Map<LiveStation, WhepAudience>();
  /** Offers being answered (werift gathers candidates): they count against the caps already. */
  private pendingWhip = 0;
  private pendingWhep = 0;
  private readonly pendingWhepByStation = new Map<LiveStation, number>();
  private closed = false;
  private readonly offRegistry: (() => void)[];

  constructor(
    private readonly options: WebRtcOptions,
    private readonly deps: WebRtcDeps,
  ) {
    this.offRegistry = [
      deps.registry.on('streaming', (station) => this.audiences.get(station)?.start()),
      deps.registry.on('ended', (station) => this.onStationEnded(station)),
    ];
  }

  get whipSessionCount(): number {
    return this.whip.size;
  }

  get whepSessionCount(): number {
    return this.whep.size;
  }

  /** A WHIP offer: reserves a station, answers, and streams its RTP into it once connected. */
  async publish(offer: string, identity: WhipIdentity, client: StationClient): Promise<WhipCreated> {
    if (this.closed) throw new ApiError('relay_busy', 'the relay is shutting down', { 'Retry-After': RETRY_AFTER_S });
    const checked = checkOffer(offer, 'send');
    if (!checked.ok) throw new ApiError('bad_sdp', checked.message);
    if (this.whip.size + this.pendingWhip >= this.options.maxWhipSessions) {
      throw new ApiError('relay_busy', `the relay has ${this.options.maxWhipSessions} WHIP sessions, its limit; try again later`, { 'Retry-After': RETRY_AFTER_S });
    }
    const reserved = this.deps.registry.reserve({
      traceId: identity.traceId,
      stationKey: identity.stationKey,
      label: identity.label ?? null,
      codec: 'opus',
      sampleRate: 48000,
      client,
      transport: 'webrtc',
    });
    if (!reserved.ok) {
      if ('limit' in reserved) {
        this.deps.limits.count(reserved.limit);
        throw new ApiError('relay_busy', reserved.message, { 'Retry-After': RETRY_AFTER_S });
      }
      throw new ApiError('invalid_request', `${reserved.field}: ${reserved.message}`);
    }
    const station = reserved.station;
    const pc = newPeerConnection();
    // werift announces the remote track while it takes the offer: collect it from the start.
    const tracks: MediaStreamTrack[] = [];
    pc.onTrack.subscribe((track) => tracks.push(track));
    let answer: string;
    this.pendingWhip++;
    try {
      answer = await this.answer(pc, checked.sdp);
    } catch (err) {
      closePeer(pc);
      this.deps.registry.end(station, 'bad_offer', Date.now());
      throw new ApiError('bad_sdp', `the offer could not be answered: ${(err as Error).message}`);
    } finally {
      this.pendingWhip--;
    }
    if (this.closed) {
      closePeer(pc);
      this.deps.registry.end(station, 'relay_stop', Date.now());
      throw new ApiError('relay_busy', 'the relay is shutting down', { 'Retry-After': RETRY_AFTER_S });
    }
    const pt = opusPayloadTypeOf(answer);
    if (pt === null) {
      closePeer(pc);
      this.deps.registry.end(station, 'bad_offer', Date.now());
      throw new ApiError('bad_sdp', 'no Opus payload type could be agreed on');
    }
    const session = new WhipSession(station, pc, pt, tracks, {
      registry: this.deps.registry,
      connectTimeoutMs: this.options.connectTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      received: (bytes) => this.deps.received(bytes),
      closed: (s, reason) => {
        this.whip.delete(s.id);
        if (reason === 'idle') this.deps.limits.count('station_idle');
        this.deps.log.info({ trace_id: station.traceId, station_key: station.stationKey, reason, packets: s.packets }, 'WHIP session closed');
      },
    });
    this.whip.set(session.id, session);
    this.deps.log.info({ trace_id: station.traceId, station_key: station.stationKey, dropped_mdns_candidates: checked.droppedCandidates }, 'WHIP session opened');
    return { sessionId: session.id, answer, station };
  }

  /** DELETE /whip/<id>: ends the station. False for an unknown session. */
  unpublish(sessionId: string): boolean {
    const s = this.whip.get(sessionId);
    if (s === undefined) return false;
    s.close('stop');
    return true;
  }

  hasWhip(sessionId: string): boolean {
    return this.whip.has(sessionId);
  }

  /** A WHEP offer for a station's stream id: answers with a sendonly Opus track. */
  async play(streamId: string, offer: string): Promise<WhepCreated> {
    if (this.closed) throw new ApiError('relay_busy', 'the relay is shutting down', { 'Retry-After': RETRY_AFTER_S });
    const found = this.deps.registry.lookupStream(streamId, Date.now());
    // The same words for an id never issued and one that ended: nothing about which ids exist.
    if (found === undefined || found.state !== 'live') throw new ApiError('stream_not_found', 'no such stream: the link may be wrong, or its station has ended');
    if (found.subject.kind !== 'station') throw new ApiError('stream_not_found', 'WHEP plays one station\'s stream; a call\'s mix is listened to over /ws/listen');
    const station = found.subject.station;
    const checked = checkOffer(offer, 'receive');
    if (!checked.ok) throw new ApiError('bad_sdp', checked.message);
    if (this.whep.size + this.pendingWhep >= this.options.maxWhepSessions) {
      throw new ApiError('relay_busy', `the relay has ${this.options.maxWhepSessions} WHEP sessions, its limit; try again later`, { 'Retry-After': RETRY_AFTER_S });
    }
    const audience = this.audiences.get(station);
    const pendingHere = this.pendingWhepByStation.get(station) ?? 0;
    if ((audience?.sessions.size ?? 0) + pendingHere >= this.options.maxWhepSessionsPerStream) {
      this.deps.limits.count('listeners_per_stream');
      throw new ApiError('relay_busy', `this stream has ${this.options.maxWhepSessionsPerStream} WHEP listeners, its limit; try again later`, { 'Retry-After': RETRY_AFTER_S });
    }
    const pc = newPeerConnection();
    const transceiver = pc.addTransceiver('audio', { direction: 'sendonly' });
    let answer: string;
    this.pendingWhep++;
    this.pendingWhepByStation.set(station, pendingHere + 1);
    try {
      answer = await this.answer(pc, checked.sdp);
    } catch (err) {
      closePeer(pc);
      throw new ApiError('bad_sdp', `the offer could not be answered: ${(err as Error).message}`);
    } finally {
      this.pendingWhep--;
      const left = (this.pendingWhepByStation.get(station) ?? 1) - 1;
      if (left > 0) this.pendingWhepByStation.set(station, left);
      else this.pendingWhepByStation.delete(station);
    }
    if (this.closed) {
      closePeer(pc);
      throw new ApiError('relay_busy', 'the relay is shutting down', { 'Retry-After': RETRY_AFTER_S });
    }
    if (station.ended) {
      closePeer(pc);
      throw new ApiError('stream_not_found', 'no such stream: the link may be wrong, or its station has ended');
    }
    let a = this.audiences.get(station);
    if (a === undefined) {
      a = new WhepAudience(station, this.options.egress, () => this.deps.listenEncoderRunning(station));
      this.audiences.set(station, a);
    }
    const owner = a;
    const session = new WhepSession(station, pc, transceiver.sender, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      closed: (s, reason) => {
        this.whep.delete(s.id);
        if (owner.remove(s)) this.audiences.delete(station);
        this.deps.log.info({ trace_id: station.traceId, station_key: station.stationKey, reason, packets: s.packetsSent }, 'WHEP session closed');
      },
    });
    this.whep.set(session.id, session);
    owner.add(session);
    return { sessionId: session.id, answer };
  }

  /** DELETE /whep/<stream>/<id>. False for an unknown session (or one of another stream). */
  stopPlaying(streamId: string, sessionId: string): boolean {
    const s = this.whep.get(sessionId);
    if (s === undefined || s.station.streamId !== streamId) return false;
    s.close('stop');
    return true;
  }

  hasWhep(streamId: string, sessionId: string): boolean {
    return this.whep.get(sessionId)?.station.streamId === streamId;
  }

  private async answer(pc: ReturnType<typeof newPeerConnection>, offer: string): Promise<string> {
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    const local = pc.localDescription;
    if (local === null) throw new Error('no local description');
    return withInbandFec(local.sdp);
  }

  /** A station ended (its WHIP session's doing or not): its WHEP sessions close, and so does its WHIP session. */
  private onStationEnded(station: LiveStation): void {
    const audience = this.audiences.get(station);
    if (audience !== undefined) for (const s of [...audience.sessions]) s.close('stream_ended');
    if (station.transport !== 'webrtc') return;
    for (const s of this.whip.values()) {
      if (s.station === station) {
        // The station's end reason is already stored; closing the session only frees the connection.
        s.close('station_ended');
        break;
      }
    }
  }

  /** Relay stop: every session closes (WHIP stations end with `relay_stop`). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offRegistry) off();
    for (const s of [...this.whep.values()]) s.close('relay_stop');
    for (const s of [...this.whip.values()]) s.close('relay_stop');
  }
}
