/**
 * One (station, tap) egress and its listeners: the Opus encoder in the media worker is
 * started for the first listener (`setEgress`) and stopped a linger after the last one left,
 * so it encodes once however many listen. Each packet is serialized once per mode and the
 * same bytes go to every listener of that mode:
 *
 *   packets  the 8-byte header of protocol/frame.ts (the packet's media timestamp modulo
 *            2^32, its sequence modulo 2^16, codec opus, flags 0) and the Opus bytes;
 *   mse      the live WebM muxer's init segment and clusters (webm-live-muxer.ts). A joiner
 *            gets the init segment and the newest clusters that hold `joinBurstMs` of audio
 *            at once (its player starts without waiting for its buffer to fill in real
 *            time), then each new one: no history beyond that.
 *
 * The join burst is there for the encoder's first listener too: the media worker starts an
 * encoder by encoding up to `joinBurstMs` of the tap's recent audio (`historyMs`), marked
 * `history`. Those packets go into the WebM only: a `packets` listener (the low-latency
 * player) starts at the live edge.
 *
 * Each message is prepared once as a whole WebSocket frame (ws-frame.ts), and the fan-out
 * loops call `Listener.deliver*` with that shared Buffer and one clock reading;
 * the ingest-to-send latency (the packet's, or the cluster's oldest packet's, arrival on the
 * relay to the bytes handed to the sockets) is observed once per fan-out.
 */
import { CODEC_IDS, FRAME_HEADER_BYTES, writeFrameHeader, type FrameHeader } from '../../../protocol/frame.ts';
import type { ListenMode, ListenTap } from '../../../protocol/listen.ts';
import type { EgressOptions, EgressPacket } from '../media/station-handle.ts';
import { epochNowMs, type Listener } from './listener.ts';
import { WebmLiveMuxer } from './webm-live-muxer.ts';
import { wsBinaryFrame } from './ws-frame.ts';

/** What an egress stream needs of a station's handle (StationHandle). */
export interface EgressSource {
  setEgress(tap: ListenTap, options: EgressOptions | null): void;
  on(event: 'egress', listener: (packet: EgressPacket) => void): () => void;
}

export interface EgressStreamOptions extends EgressOptions {
  /** mode=mse cluster length, ms (a multiple of 20). */
  clusterMs: number;
  /** The encoder keeps running this long after the last listener left. */
  lingerMs: number;
  /** mode=mse: the audio a joiner gets at once, ms (whole clusters; 0: none, the next cluster). */
  joinBurstMs: number;
}

export interface EgressStreamHooks {
  /** Ingest-to-send latency of one fan-out, s. */
  latency(mode: ListenMode, seconds: number): void;
  /** The linger after the last listener ran out: the stream has stopped its encoder. */
  idle(stream: EgressStream): void;
  /** Something worth a log line (the muxer failed and started again, the encoder restarted). */
  warn(message: string, err?: Error): void;
}

export class EgressStream {
  private readonly packetListeners = new Set<Listener>();
  private readonly mseListeners = new Set<Listener>();
  private muxer: WebmLiveMuxer | null = null;
  /** The init segment's WebSocket frame. */
  private init: Buffer | null = null;
  /** Bumped each time the init segment's bytes change: a listener with another generation gets it first. */
  private initGeneration = 0;
  /** The newest clusters' WebSocket frames, oldest first: a joiner's burst. */
  private readonly recentClusters: Buffer[] = [];
  private readonly burstClusters: number;
  /** The header written before each packet (reused: only its fields change). */
  private readonly header: FrameHeader = { timestampMs: 0, sequence: 0, codec: CODEC_IDS.opus, flags: 0 };
  private unsubscribe: (() => void) | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private lastSequence = -1;
  private stopped = false;
  /** Packets from the encoder, and how often it started again from sequence 0. */
  packets = 0;
  encoderRestarts = 0;

  constructor(
    private readonly source: EgressSource,
    readonly tap: ListenTap,
    private readonly options: EgressStreamOptions,
    private readonly hooks: EgressStreamHooks,
  ) {
    this.burstClusters = Math.ceil(options.joinBurstMs / options.clusterMs);
    this.unsubscribe = source.on('egress', (p) => this.onPacket(p));
    source.setEgress(tap, { bitrate: options.bitrate, complexity: options.complexity, historyMs: options.joinBurstMs });
  }

  get listenerCount(): number {
    return this.packetListeners.size + this.mseListeners.size;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** A listener joins: mse listeners get the init segment and the join burst at once. */
  add(listener: Listener): void {
    if (this.stopped) throw new Error('EgressStream.add() after stop()');
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (listener.request.mode === 'packets') {
      this.packetListeners.add(listener);
      return;
    }
    this.mseListeners.add(listener);
    this.muxer ??= this.newMuxer(0);
    const now = epochNowMs();
    if (this.init === null) return;
    listener.deliverInit(this.init, this.initGeneration, now);
    if (listener.request.burst === 'none') return;
    for (const cluster of this.recentClusters) listener.deliverCluster(cluster, this.init, this.initGeneration, now);
  }

  /** A listener leaves; the last one starts the linger. */
  remove(listener: Listener): void {
    this.packetListeners.delete(listener);
    this.mseListeners.delete(listener);
    if (this.listenerCount > 0 || this.stopped || this.lingerTimer !== null) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.listenerCount > 0) return;
      this.stop();
      this.hooks.idle(this);
    }, this.options.lingerMs);
    this.lingerTimer.unref();
  }

  /** Stops the encoder and the muxer (listeners are the caller's to close). Safe twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.source.setEgress(this.tap, null);
    this.muxer?.close();
    this.muxer = null;
    this.packetListeners.clear();
    this.mseListeners.clear();
  }

  private onPacket(p: EgressPacket): void {
    if (p.tap !== this.tap || this.stopped) return;
    this.packets++;
    if (p.sequence === 0 && this.lastSequence >= 0) {
      // A fresh encoder: the WebM goes on in the same timeline (webm-live-muxer.ts).
      this.encoderRestarts++;
      this.hooks.warn(`the ${this.tap} encoder started again after packet ${this.lastSequence}`);
    }
    this.lastSequence = p.sequence;
    if (this.packetListeners.size > 0 && !p.history) this.fanOutPacket(p);
    this.muxer?.push(p.data, p.arrivalMs);
  }

  private fanOutPacket(p: EgressPacket): void {
    const packet = Buffer.allocUnsafe(FRAME_HEADER_BYTES + p.data.length);
    this.header.timestampMs = Math.floor(p.timestampMs);
    this.header.sequence = p.sequence;
    writeFrameHeader(this.header, packet, 0);
    packet.set(p.data, FRAME_HEADER_BYTES);
    const frame = wsBinaryFrame(packet);
    const now = epochNowMs();
    let sent = 0;
    for (const l of this.packetListeners) if (l.deliver(frame, now)) sent++;
    if (sent > 0) this.hooks.latency('packets', (epochNowMs() - p.arrivalMs) / 1000);
  }

  private newMuxer(startAtPacket: number): WebmLiveMuxer {
    return new WebmLiveMuxer(
      { clusterMs: this.options.clusterMs, startAtPacket },
      {
        onInit: (segment) => {
          const init = wsBinaryFrame(segment);
          this.init = init;
          this.initGeneration++;
          const now = epochNowMs();
          for (const l of this.mseListeners) l.deliverInit(init, this.initGeneration, now);
        },
        onCluster: (segment, _startMs, firstArrivalMs) => {
          const cluster = wsBinaryFrame(segment);
          if (this.burstClusters > 0) {
            this.recentClusters.push(cluster);
            if (this.recentClusters.length > this.burstClusters) this.recentClusters.shift();
          }
          const init = this.init;
          if (init === null) return;
          const now = epochNowMs();
          let sent = 0;
          for (const l of this.mseListeners) if (l.deliverCluster(cluster, init, this.initGeneration, now)) sent++;
          if (sent > 0) this.hooks.latency('mse', (epochNowMs() - firstArrivalMs) / 1000);
        },
        onError: (err) => {
          if (this.stopped) return;
          // Started again where the failed one stopped, so the listeners' timeline goes on.
          this.hooks.warn('the WebM muxer failed; starting it again', err);
          this.muxer = this.newMuxer(this.muxer?.packetCount ?? 0);
        },
      },
    );
  }
}
