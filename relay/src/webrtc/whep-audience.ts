/**
 * The WHEP sessions of one station and the POST-tap egress encoder they share: started
 * (`setEgress`) for the first session once the station has a pipeline, its packets sent to
 * every session, stopped when the last session leaves.
 *
 * The listen service (/ws/listen) drives the same encoder through the same handle, with the
 * same bitrate and complexity, so a second start by either is no change. Two rules keep
 * either side from cutting the other off:
 * - the audience stops the encoder only when the listen service runs none for the station
 *   (`othersListening`);
 * - when the listen service stops the encoder while WHEP sessions remain (its linger ran
 *   out), the packets stop coming while the station still sends audio: a watchdog then
 *   starts it again (a fresh encoder; the sessions' RTP timelines go on).
 */
import { LISTEN_FRAME_MS } from '../../../protocol/listen.ts';
import type { LiveStation } from '../live/live-registry.ts';
import type { EgressOptions, EgressPacket } from '../media/station-handle.ts';
import type { WhepSession } from './whep-session.ts';

/** No egress packet for this long while the station's audio arrives: the encoder is started again. */
const EGRESS_STALL_MS = 250;

export class WhepAudience {
  readonly sessions = new Set<WhepSession>();
  private unsubscribe: (() => void) | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastPacketMs = 0;
  /** Times the watchdog started the encoder again. */
  restarts = 0;

  constructor(
    readonly station: LiveStation,
    private readonly options: EgressOptions,
    /** True while the listen service runs a POST encoder for this station. */
    private readonly othersListening: () => boolean,
  ) {}

  add(session: WhepSession): void {
    this.sessions.add(session);
    this.start();
  }

  /** Takes a session out; the last one stops the encoder. Returns true when none is left. */
  remove(session: WhepSession): boolean {
    this.sessions.delete(session);
    if (this.sessions.size > 0) return false;
    this.stop();
    return true;
  }

  /** Starts the encoder if the station has a pipeline (otherwise, the service calls again on `streaming`). */
  start(): void {
    const handle = this.station.handle;
    if (handle === null || this.unsubscribe !== null || this.sessions.size === 0 || this.station.ended) return;
    this.unsubscribe = handle.on('egress', (p) => this.onPacket(p));
    handle.setEgress('POST', this.options);
    this.lastPacketMs = Date.now();
    this.watchdog = setInterval(() => this.check(), EGRESS_STALL_MS);
    this.watchdog.unref();
  }

  private onPacket(p: EgressPacket): void {
    if (p.tap !== 'POST') return;
    this.lastPacketMs = Date.now();
    // History packets replay audio already played: a real-time player starts at the live edge.
    if (p.history) return;
    for (const s of this.sessions) s.send(p);
  }

  private check(): void {
    const now = Date.now();
    const handle = this.station.handle;
    if (handle === null || this.station.ended) return;
    const stationSends = now - this.station.lastAudioMs < 2 * LISTEN_FRAME_MS + EGRESS_STALL_MS;
    if (!stationSends || now - this.lastPacketMs < EGRESS_STALL_MS) return;
    this.restarts++;
    this.lastPacketMs = now;
    handle.setEgress('POST', this.options);
  }

  /** Stops listening to the encoder, and stops the encoder unless /ws/listen uses it. Safe twice. */
  stop(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    if (this.unsubscribe === null) return;
    this.unsubscribe();
    this.unsubscribe = null;
    if (!this.othersListening()) this.station.handle?.setEgress('POST', null);
  }
}
