/**
 * A UDP proxy on 127.0.0.1 that puts an impaired network between an RTP sender and its
 * receiver, for tests and benchmarks of RTP transport (loss concealment, jitter buffers,
 * RTCP feedback). Thin: the decisions come from `ImpairmentModel`; this file only moves
 * datagrams and keeps their delivery times.
 *
 *   sender ──► proxy.port ──[forward model]──► target host:port      (RTP)
 *   sender ◄── proxy.port ◄──[reverse model]── upstream socket ◄── target   (RTCP RR, replies)
 *
 * Datagrams arriving on the listening socket go to the target through a second, upstream
 * socket (an ephemeral 127.0.0.1 port, which the target sees as the peer). Datagrams the
 * target sends back to that upstream socket go out of the listening socket to the address of
 * the last datagram received there, so one sender talking to one receiver gets its RTCP back.
 * Datagrams reaching the upstream socket from any port but the target's are ignored.
 * Each direction has its own model and seed; `reverse` defaults to a clean path.
 *
 * Each direction keeps its delayed datagrams in one queue ordered by delivery time (ties in
 * arrival order, so a model that keeps order keeps it on the wire too) with one timer for its
 * head. The queue is bounded by `maxInFlightPackets`: a datagram that would exceed it is
 * dropped and counted in `overflowDropped`. `setOptions()` changes impairment live; packets
 * already queued keep the times they were given. `close()` is idempotent: it clears the
 * timers, discards queued datagrams (counted in `discardedOnClose`) and closes both sockets.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ImpairmentModel, type ImpairmentCounters, type ImpairmentOptions } from './impairment-model.ts';

export interface UdpImpairmentProxyOptions {
  /** Where forwarded datagrams go. */
  targetPort: number;
  /** Default '127.0.0.1'. */
  targetHost?: string;
  /** Port the proxy listens on, on 127.0.0.1; default 0 (ephemeral, read `port`). */
  listenPort?: number;
  /** Impairment from the sender to the target; default clean. */
  forward?: ImpairmentOptions;
  /** Impairment from the target back to the sender; default clean. Its seed defaults to 2 (forward's to 1), so the directions draw apart. */
  reverse?: ImpairmentOptions;
  /** Cap on datagrams waiting for delivery, per direction; default 4096. */
  maxInFlightPackets?: number;
}

export interface DirectionStats extends ImpairmentCounters {
  /** Datagrams handed to the socket. */
  forwarded: number;
  /** Dropped because `maxInFlightPackets` were already waiting. */
  overflowDropped: number;
  /** Reverse only: datagrams with no sender address yet to return them to. */
  noPeerDropped: number;
  /** Queued datagrams thrown away by `close()`. */
  discardedOnClose: number;
  sendErrors: number;
  /** Datagrams waiting now. */
  inFlight: number;
  /** Whether a delivery timer is pending (never after `close()`). */
  timerArmed: boolean;
}

export interface UdpImpairmentProxyStats {
  forward: DirectionStats;
  reverse: DirectionStats;
}

interface Queued {
  atMs: number;
  buf: Buffer;
  port: number;
  address: string;
}

/** One direction: a model, a delivery-time queue and its single timer. */
class ImpairedLink {
  readonly model: ImpairmentModel;
  private readonly queue: Queued[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAtMs = Infinity;
  private closed = false;
  private readonly counts = { forwarded: 0, overflowDropped: 0, noPeerDropped: 0, discardedOnClose: 0, sendErrors: 0 };

  constructor(
    options: ImpairmentOptions,
    private readonly socket: Socket,
    private readonly maxInFlight: number,
  ) {
    this.model = new ImpairmentModel(options);
  }

  push(buf: Buffer, port: number, address: string): void {
    if (this.closed) return;
    const now = performance.now();
    const d = this.model.decide(now);
    for (let c = 0; c < d.copies; c++) {
      if (this.queue.length >= this.maxInFlight) {
        this.counts.overflowDropped++;
        continue;
      }
      this.insert({ atMs: d.deliverAtMs[c], buf, port, address });
    }
    this.flush();
  }

  countNoPeer(): void {
    this.counts.noPeerDropped++;
  }

  stats(): DirectionStats {
    return { ...this.model.stats(), ...this.counts, inFlight: this.queue.length, timerArmed: this.timer !== null };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.counts.discardedOnClose += this.queue.length;
    this.queue.length = 0;
  }

  /** Inserts after every entry due at the same time or earlier (stable for ties). */
  private insert(q: Queued): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].atMs > q.atMs) i--;
    this.queue.splice(i, 0, q);
  }

  /** Sends whatever is due, then arms the timer for the next head. */
  private flush(): void {
    if (this.closed) return;
    const now = performance.now();
    let due = 0;
    while (due < this.queue.length && this.queue[due].atMs <= now) due++;
    if (due > 0) {
      for (const q of this.queue.splice(0, due)) this.send(q);
    }
    const head = this.queue[0];
    if (head === undefined) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.timerAtMs = Infinity;
      return;
    }
    if (this.timer !== null && this.timerAtMs <= head.atMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAtMs = head.atMs;
    // setTimeout rounds to whole ms and may fire early by a fraction; flush() re-arms if so.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAtMs = Infinity;
      this.flush();
    }, Math.max(1, Math.ceil(head.atMs - now)));
  }

  private send(q: Queued): void {
    this.socket.send(q.buf, q.port, q.address, (err) => {
      if (err) this.counts.sendErrors++;
    });
    this.counts.forwarded++;
  }
}

function bind(socket: Socket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export class UdpImpairmentProxy {
  private readonly listen: Socket;
  private readonly upstream: Socket;
  private readonly fwd: ImpairedLink;
  private readonly rev: ImpairedLink;
  private readonly targetHost: string;
  private readonly targetPort: number;
  private peer: { port: number; address: string } | null = null;
  private closing: Promise<void> | null = null;

  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;

  static async start(options: UdpImpairmentProxyOptions): Promise<UdpImpairmentProxy> {
    const { targetPort, listenPort = 0, maxInFlightPackets = 4096 } = options;
    if (!Number.isInteger(targetPort) || targetPort <= 0 || targetPort > 65535) throw new RangeError(`targetPort must be a port in 1..65535, got ${targetPort}`);
    if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) throw new RangeError(`listenPort must be a port in 0..65535, got ${listenPort}`);
    if (!Number.isInteger(maxInFlightPackets) || maxInFlightPackets < 1) throw new RangeError(`maxInFlightPackets must be an integer >= 1, got ${maxInFlightPackets}`);
    const listen = createSocket('udp4');
    const upstream = createSocket('udp4');
    try {
      await bind(listen, listenPort);
      await bind(upstream, 0);
    } catch (err) {
      listen.close();
      upstream.close();
      throw err;
    }
    return new UdpImpairmentProxy(listen, upstream, options, maxInFlightPackets);
  }

  private constructor(listen: Socket, upstream: Socket, options: UdpImpairmentProxyOptions, maxInFlight: number) {
    this.listen = listen;
    this.upstream = upstream;
    this.targetHost = options.targetHost ?? '127.0.0.1';
    this.targetPort = options.targetPort;
    this.port = listen.address().port;
    this.fwd = new ImpairedLink(options.forward ?? {}, upstream, maxInFlight);
    this.rev = new ImpairedLink({ seed: 2, ...options.reverse }, listen, maxInFlight);
    listen.on('message', this.onSenderMessage);
    upstream.on('message', this.onTargetMessage);
    // Send failures reach the send callback and are counted there; without a listener any
    // other socket error would throw out of the proxy into the test using it.
    listen.on('error', () => {});
    upstream.on('error', () => {});
  }

  private readonly onSenderMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.peer = { port: rinfo.port, address: rinfo.address };
    this.fwd.push(msg, this.targetPort, this.targetHost);
  };

  private readonly onTargetMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port !== this.targetPort) return;
    if (this.peer === null) {
      this.rev.countNoPeer();
      return;
    }
    this.rev.push(msg, this.peer.port, this.peer.address);
  };

  /** Changes impairment from now on; an omitted direction is left as it is, a given one is replaced. */
  setOptions(options: { forward?: ImpairmentOptions; reverse?: ImpairmentOptions }): void {
    if (options.forward !== undefined) this.fwd.model.setOptions(options.forward);
    if (options.reverse !== undefined) this.rev.model.setOptions(options.reverse);
  }

  stats(): UdpImpairmentProxyStats {
    return { forward: this.fwd.stats(), reverse: this.rev.stats() };
  }

  /** Clears timers, drops queued datagrams and closes both sockets; safe to call twice. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.fwd.close();
    this.rev.close();
    this.listen.off('message', this.onSenderMessage);
    this.upstream.off('message', this.onTargetMessage);
    const closeSocket = (s: Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));
    this.closing = Promise.all([closeSocket(this.listen), closeSocket(this.upstream)]).then(() => undefined);
    return this.closing;
  }
}
