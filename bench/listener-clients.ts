/**
 * The listener harness of bench/listeners.ts: N live-audio listeners in one process, the
 * same code for Icecast and for the relay, so both servers are measured by one yardstick.
 * bench/listeners.ts runs it as a child process (`--role` is implied: this file only ever
 * runs as the child) on the load core, and drives it over IPC:
 *
 *   { cmd: 'grow', target, listeners, joinRate }  open listeners up to `listeners`, `joinRate`
 *                                                 a second; answers `grown` once each has its
 *                                                 first media or failed
 *   { cmd: 'mark' }                               start a window (counters and lag histogram)
 *   { cmd: 'report' }                             end it; answers `report`
 *   { cmd: 'exit' }
 *
 * What a listener speaks (`ListenTarget.kind`):
 * - `icecast`: `GET /mount HTTP/1.0`, then an Ogg stream; one "message" is an Ogg page and
 *   its media time is the page's granule position (48 kHz samples for Opus, RFC 7845 §4).
 * - `packets` / `webm`: a WebSocket upgrade to the relay's `/ws/listen`, then WebSocket
 *   frames (RFC 6455 §5.2); a message's media time is the frame header's timestamp (ms,
 *   protocol/frame.ts) or the WebM cluster's Timestamp element (times TimestampScale from
 *   the init segment, Matroska §5.1.3.1).
 *
 * Lag behind live: for every message, arrival time minus media time is its "offset"; the
 * smallest offset any listener saw since the harness started is the live edge (the fastest
 * delivery of the stream, on an idle server), and a message's lag is its offset minus that.
 * Constant parts (the cluster or page duration before it can be sent) cancel; what remains
 * is what the server adds, joining included, and any unevenness of the source's pacing.
 * The fan-out alone is the spread: a message's arrival minus the first arrival of the same
 * media time at any listener (this process handles arrivals in order, so the first seen is
 * the earliest).
 *
 * Cheap by design, so that one core of clients can hold thousands of listeners: raw `net`
 * sockets sharing one read buffer (`onread`, no allocation per chunk), a hand-written
 * HTTP/WebSocket upgrade and frame parser that touches only frame headers and the first
 * bytes of each payload (it answers pings, as the relay's heartbeat needs), counters per
 * listener, fixed histograms for all. Measured against a `ws` fan-out server on the other
 * core (2026-11-30, a busy machine): 3000 listeners of 420-byte messages every 100 ms cost
 * this harness 0.20-0.24 of its core (80 MB), and as many `ws` clients 0.30-0.39 (105 MB);
 * 2000 listeners of 108-byte messages every 20 ms, 0.51 against 0.55. What remains is the
 * kernel's: one wake-up and one read per message per socket, about 7 us.
 */
import net from 'node:net';

export type ListenTarget =
  | { kind: 'icecast'; host: string; port: number; path: string }
  | { kind: 'packets' | 'webm'; host: string; port: number; path: string };

export type ToHarness =
  | { cmd: 'grow'; target: ListenTarget; listeners: number; joinRate: number }
  | { cmd: 'mark' }
  | { cmd: 'report' }
  | { cmd: 'exit' };

export interface GrowReport {
  open: number;
  /** Listeners that failed to join, by reason ("refused", "HTTP/1.0 403 ...", ...). */
  failed: Record<string, number>;
  joinS: number;
  /** From the connect call to the first media message, over the listeners of this grow, ms. */
  firstMediaP50Ms: number;
  firstMediaP99Ms: number;
}

export interface WindowReport {
  windowS: number;
  open: number;
  /** Listeners whose media time advanced by at least 97 % of the window. */
  fullRate: number;
  /** Listeners closed during the window (by the server or an error). */
  closedInWindow: number;
  closeReasons: Record<string, number>;
  messages: number;
  /** Media bytes per listener per second (body or binary payload), kbit/s: mean and min over open listeners. */
  kbpsMean: number;
  kbpsMin: number;
  /** Media seconds per window second: min over open listeners. */
  mediaRateMin: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  lagCount: number;
  /** Arrival behind the first listener to get the same media time, ms. */
  spreadP50Ms: number;
  spreadP99Ms: number;
  spreadMaxMs: number;
}

export type FromHarness = { type: 'grown'; grow: GrowReport } | { type: 'marked' } | { type: 'report'; report: WindowReport };

/** Media time advanced over a window, as a share of it, for a listener to count as full rate. */
export const FULL_RATE_SHARE = 0.97;

// ------------------------------------------------------------------ lag histogram

/**
 * Offsets (arrival minus media time, ms) in 0.25 ms bins over 60 s around the first one seen;
 * the minimum is kept across windows, as the live edge.
 */
class OffsetHistogram {
  static readonly BIN_MS = 0.25;
  static readonly SPAN_MS = 60_000;
  readonly bins = new Uint32Array(OffsetHistogram.SPAN_MS / OffsetHistogram.BIN_MS);
  private base = NaN;
  count = 0;
  maxOffset = -Infinity;
  minOffset = Infinity;

  record(offset: number): void {
    if (Number.isNaN(this.base)) this.base = offset - 5000; // room below for faster deliveries to come
    if (offset < this.minOffset) this.minOffset = offset;
    if (offset > this.maxOffset) this.maxOffset = offset;
    const i = Math.floor((offset - this.base) / OffsetHistogram.BIN_MS);
    this.bins[i < 0 ? 0 : i >= this.bins.length ? this.bins.length - 1 : i]++;
    this.count++;
  }

  /** Lag (ms behind the smallest offset ever seen) at quantile q of this window. */
  lag(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= target) return Math.max(0, this.base + (i + 1) * OffsetHistogram.BIN_MS - this.minOffset);
    }
    return this.maxOffset - this.minOffset;
  }

  resetWindow(): void {
    this.bins.fill(0);
    this.count = 0;
    this.maxOffset = -Infinity;
  }
}

const lag = new OffsetHistogram();

/** The first arrival of each recent media time, in a ring keyed by the media time in whole ms. */
class FirstArrivals {
  private static readonly SLOTS = 4096;
  private readonly keys = new Float64Array(FirstArrivals.SLOTS).fill(-1);
  private readonly at = new Float64Array(FirstArrivals.SLOTS);
  /** Spreads (ms behind the first arrival) in 0.25 ms bins up to 10 s, the last bin open. */
  readonly bins = new Uint32Array(40_001);
  count = 0;
  maxMs = 0;

  record(mediaMs: number, now: number): void {
    const key = Math.round(mediaMs);
    // Media times are 20 ms (packets) or a page/cluster apart: divided by 20, consecutive ones take consecutive slots.
    const slot = Math.floor(key / 20) % FirstArrivals.SLOTS;
    if (this.keys[slot] !== key) {
      this.keys[slot] = key;
      this.at[slot] = now;
    }
    const spread = now - this.at[slot];
    this.bins[Math.min(this.bins.length - 1, Math.floor(spread / 0.25))]++;
    this.count++;
    if (spread > this.maxMs) this.maxMs = spread;
  }

  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= target) return i === this.bins.length - 1 ? this.maxMs : (i + 1) * 0.25;
    }
    return this.maxMs;
  }

  resetWindow(): void {
    this.bins.fill(0);
    this.count = 0;
    this.maxMs = 0;
  }
}

const spread = new FirstArrivals();

// ------------------------------------------------------------------ one listener

/** A listener's phases: connecting, reading the response head, reading the stream, closed. */
const Phase = { Connecting: 0, Head: 1, Body: 2, Closed: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];
/** Bytes of each payload kept: a frame header's timestamp, or a WebM cluster's Timestamp element. */
const HEAD_BYTES = 32;
/** Text and control messages (and the WebM init segment) are kept whole up to this size. */
const CAPTURE_BYTES = 4096;
const ZERO_MASK_PONG = 0x8a; // FIN + pong

class Listener {
  phase: Phase = Phase.Connecting;
  socket: net.Socket | null = null;
  connectAt = 0;
  firstMediaAt = NaN;
  closeReason = '';
  closedAt = NaN;
  private http = '';
  // counters
  bytes = 0;
  messages = 0;
  mediaMs = NaN;
  markBytes = 0;
  markMessages = 0;
  markMediaMs = NaN;
  // frame / page header being read
  private readonly fh = new Uint8Array(27 + 255);
  private fhLen = 0;
  private fhNeed = 2;
  private left = 0;
  private inPayload = false;
  // WebSocket message being read
  private opcode = 0;
  private fin = true;
  private msgLen = 0;
  private readonly head = new Uint8Array(HEAD_BYTES);
  private headLen = 0;
  private capture: Uint8Array | null = null;
  private captureLen = 0;
  private sawInit = false;
  private timestampScaleMs = 1;
  // Ogg page being read
  private granule = -1;
  private pageBytes = 0;

  constructor(readonly target: ListenTarget) {}

  request(): string {
    const t = this.target;
    if (t.kind === 'icecast') return `GET ${t.path} HTTP/1.0\r\nHost: ${t.host}:${t.port}\r\nUser-Agent: tapwire-bench\r\n\r\n`;
    return (
      `GET ${t.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
    );
  }

  /** A chunk read from the socket: buf[0, n). */
  feed(buf: Buffer, n: number, now: number): void {
    let i = 0;
    if (this.phase === Phase.Head) {
      // The response head is short and comes once: a string is fine here.
      const before = this.http.length;
      this.http += buf.toString('latin1', 0, Math.min(n, 8192));
      const end = this.http.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.http.length > 8192) this.fail('response head too long');
        return;
      }
      const status = this.http.slice(0, this.http.indexOf('\r\n'));
      const expected = this.target.kind === 'icecast' ? / 200 / : / 101 /;
      if (!expected.test(status)) return this.fail(status.slice(0, 60));
      i = end + 4 - before;
      this.http = '';
      this.phase = Phase.Body;
    }
    if (this.phase !== Phase.Body) return;
    if (this.target.kind === 'icecast') this.feedOgg(buf, i, n, now);
    else this.feedWebSocket(buf, i, n, now);
  }

  /** Ogg pages (RFC 3533 §6): 27-byte header, segment table, body. */
  private feedOgg(buf: Buffer, i: number, end: number, now: number): void {
    const fh = this.fh;
    while (i < end) {
      if (this.inPayload) {
        const take = Math.min(this.left, end - i);
        i += take;
        this.left -= take;
        if (this.left === 0) this.pageDone(now);
        continue;
      }
      fh[this.fhLen++] = buf[i++];
      if (this.fhLen === 27) {
        if (fh[0] !== 0x4f || fh[1] !== 0x67 || fh[2] !== 0x67 || fh[3] !== 0x53) return this.fail('not an Ogg page');
        this.fhNeed = 27 + fh[26];
      }
      if (this.fhLen >= 27 && this.fhLen === this.fhNeed) {
        let body = 0;
        for (let k = 27; k < this.fhNeed; k++) body += fh[k];
        const lo = fh[6] | (fh[7] << 8) | (fh[8] << 16) | (fh[9] << 24);
        const hi = fh[10] | (fh[11] << 8) | (fh[12] << 16) | (fh[13] << 24);
        // -1 (all ones): no packet ends on this page; header pages carry 0.
        this.granule = hi === -1 && lo === -1 ? -1 : (lo >>> 0) + (hi >>> 0) * 2 ** 32;
        this.pageBytes = this.fhNeed + body;
        this.fhLen = 0;
        this.left = body;
        this.inPayload = true;
        if (body === 0) this.pageDone(now);
      }
    }
  }

  private pageDone(now: number): void {
    this.inPayload = false;
    this.bytes += this.pageBytes;
    this.messages++;
    if (this.granule > 0) this.media(this.granule / 48, now); // Opus granules count 48 kHz samples
  }

  /** WebSocket frames from the server (RFC 6455 §5.2): unmasked, 2 to 10 header bytes. */
  private feedWebSocket(buf: Buffer, i: number, end: number, now: number): void {
    const fh = this.fh;
    while (i < end) {
      if (!this.inPayload) {
        fh[this.fhLen++] = buf[i++];
        if (this.fhLen === 2) {
          const len7 = fh[1] & 0x7f;
          this.fhNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (fh[1] & 0x80 ? 4 : 0);
        }
        if (this.fhLen >= 2 && this.fhLen === this.fhNeed) this.frameStart(now);
        continue;
      }
      const take = Math.min(this.left, end - i);
      if (this.headLen < HEAD_BYTES) {
        const k = Math.min(take, HEAD_BYTES - this.headLen);
        for (let j = 0; j < k; j++) this.head[this.headLen + j] = buf[i + j];
        this.headLen += k;
      }
      if (this.capture !== null && this.captureLen < this.capture.length) {
        const k = Math.min(take, this.capture.length - this.captureLen);
        for (let j = 0; j < k; j++) this.capture[this.captureLen + j] = buf[i + j];
        this.captureLen += k;
      }
      i += take;
      this.left -= take;
      if (this.left === 0) this.frameDone(now);
    }
  }

  private frameStart(now: number): void {
    const fh = this.fh;
    const len7 = fh[1] & 0x7f;
    const len = len7 === 126 ? (fh[2] << 8) | fh[3] : len7 === 127 ? fh[6] * 2 ** 24 + ((fh[7] << 16) | (fh[8] << 8) | fh[9]) : len7;
    const opcode = fh[0] & 0x0f;
    this.fin = (fh[0] & 0x80) !== 0;
    if (opcode !== 0) {
      // a new message (0 continues the one before)
      this.opcode = opcode;
      this.msgLen = 0;
      this.headLen = 0;
      const keep = opcode !== 2 || (this.target.kind === 'webm' && !this.sawInit);
      this.capture = keep ? new Uint8Array(Math.min(len, CAPTURE_BYTES)) : null;
      this.captureLen = 0;
    }
    this.msgLen += len;
    this.fhLen = 0;
    this.left = len;
    this.inPayload = true;
    if (len === 0) this.frameDone(now);
  }

  private frameDone(now: number): void {
    this.inPayload = false;
    if (!this.fin) return;
    const h = this.head;
    switch (this.opcode) {
      case 2: {
        this.bytes += this.msgLen;
        this.messages++;
        if (this.target.kind === 'packets') {
          if (this.headLen >= 8) this.media(h[0] * 2 ** 24 + ((h[1] << 16) | (h[2] << 8) | h[3]), now);
        } else if (!this.sawInit) {
          this.sawInit = true;
          this.timestampScaleMs = timestampScaleMs(this.capture!, this.captureLen);
        } else {
          const tc = clusterTimestamp(h, this.headLen);
          if (tc >= 0) this.media(tc * this.timestampScaleMs, now);
        }
        break;
      }
      case 8: {
        const code = this.headLen >= 2 ? (h[0] << 8) | h[1] : 1005;
        this.close(`closed by the server (${code})`);
        break;
      }
      case 9: {
        // Ping: a pong with the same payload, masked with a zero key (RFC 6455 §5.3 requires a mask).
        const payload = this.capture!.subarray(0, Math.min(this.captureLen, 125));
        const frame = Buffer.alloc(6 + payload.length);
        frame[0] = ZERO_MASK_PONG;
        frame[1] = 0x80 | payload.length;
        frame.set(payload, 6);
        this.socket?.write(frame);
        break;
      }
      case 1: {
        const text = Buffer.from(this.capture!.buffer, 0, this.captureLen).toString('utf8');
        if (text.includes('"type":"error"')) this.close(`error message: ${text.slice(0, 120)}`);
        break;
      }
    }
    this.capture = null;
  }

  private media(mediaMs: number, now: number): void {
    if (Number.isNaN(this.firstMediaAt)) this.firstMediaAt = now;
    this.mediaMs = mediaMs;
    lag.record(now - mediaMs);
    spread.record(mediaMs, now);
  }

  fail(reason: string): void {
    this.close(reason);
    this.socket?.destroy();
  }

  close(reason: string): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.closeReason = reason;
    this.closedAt = performance.now();
  }
}

/** TimestampScale (0x2AD7B1, ns per tick) in a WebM init segment, in ms; the default 1 ms when absent. */
function timestampScaleMs(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 4 < len; i++) {
    if (buf[i] !== 0x2a || buf[i + 1] !== 0xd7 || buf[i + 2] !== 0xb1) continue;
    const size = vint(buf, i + 3, len);
    if (size === null) break;
    let v = 0;
    for (let k = 0; k < size.value; k++) v = v * 256 + buf[i + 3 + size.length + k];
    return v / 1e6;
  }
  return 1;
}

/** An EBML variable-size integer (RFC 8794 §4): its value and its length in bytes. */
function vint(buf: Uint8Array, at: number, len: number): { value: number; length: number } | null {
  if (at >= len) return null;
  const first = buf[at];
  let length = 1;
  while (length <= 8 && (first & (0x80 >> (length - 1))) === 0) length++;
  if (length > 8 || at + length > len) return null;
  let value = first & (0xff >> length);
  for (let k = 1; k < length; k++) value = value * 256 + buf[at + k];
  return { value, length };
}

/** The Timestamp (0xE7) at the start of a Cluster (0x1F43B675), in ticks; -1 when not found. */
function clusterTimestamp(h: Uint8Array, len: number): number {
  if (len < 6 || h[0] !== 0x1f || h[1] !== 0x43 || h[2] !== 0xb6 || h[3] !== 0x75) return -1;
  const size = vint(h, 4, len);
  if (size === null) return -1;
  let at = 4 + size.length;
  if (h[at] !== 0xe7) return -1;
  const n = vint(h, at + 1, len);
  if (n === null) return -1;
  at += 1 + n.length;
  if (at + n.value > len) return -1;
  let v = 0;
  for (let k = 0; k < n.value; k++) v = v * 256 + h[at + k];
  return v;
}

// ------------------------------------------------------------------ the process

const listeners: Listener[] = [];
/** One read buffer for every socket: each chunk is parsed before the next read. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
let markAt = performance.now();
let openAtMark = new Set<Listener>();

function open(target: ListenTarget): Listener {
  const l = new Listener(target);
  l.connectAt = performance.now();
  const s = net.connect({
    host: target.host,
    port: target.port,
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Buffer): boolean => {
        l.feed(buf, n, performance.now());
        return true;
      },
    },
  });
  l.socket = s;
  s.once('connect', () => {
    l.phase = Phase.Head;
    s.write(l.request());
  });
  s.on('error', (err: NodeJS.ErrnoException) => l.close(err.code ?? err.message));
  s.on('close', () => l.close(l.phase === Phase.Body ? 'closed by the server' : 'connection closed before the stream'));
  listeners.push(l);
  return l;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function grow(target: ListenTarget, count: number, joinRate: number): Promise<GrowReport> {
  const t0 = performance.now();
  const fresh: Listener[] = [];
  const toOpen = Math.max(0, count - listeners.length);
  // A steady join rate: every 5 ms, open the listeners due by now.
  while (fresh.length < toOpen) {
    const due = Math.min(toOpen, Math.ceil(((performance.now() - t0) / 1000) * joinRate));
    while (fresh.length < due) fresh.push(open(target));
    await sleep(5);
  }
  // Wait (at most 20 s) until every new listener has its first media or has closed.
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline && fresh.some((l) => Number.isNaN(l.firstMediaAt) && l.phase !== Phase.Closed)) await sleep(50);
  const failed: Record<string, number> = {};
  for (const l of fresh) {
    if (l.phase === Phase.Closed) failed[l.closeReason] = (failed[l.closeReason] ?? 0) + 1;
    else if (Number.isNaN(l.firstMediaAt)) failed['no media within 20 s'] = (failed['no media within 20 s'] ?? 0) + 1;
  }
  const firsts = fresh.filter((l) => !Number.isNaN(l.firstMediaAt)).map((l) => l.firstMediaAt - l.connectAt).sort((a, b) => a - b);
  return {
    open: listeners.filter((l) => l.phase !== Phase.Closed).length,
    failed,
    joinS: (performance.now() - t0) / 1000,
    firstMediaP50Ms: quantile(firsts, 0.5),
    firstMediaP99Ms: quantile(firsts, 0.99),
  };
}

function mark(): void {
  markAt = performance.now();
  openAtMark = new Set();
  for (const l of listeners) {
    l.markBytes = l.bytes;
    l.markMessages = l.messages;
    l.markMediaMs = l.mediaMs;
    if (l.phase !== Phase.Closed) openAtMark.add(l);
  }
  lag.resetWindow();
  spread.resetWindow();
}

function report(): WindowReport {
  const now = performance.now();
  const windowS = (now - markAt) / 1000;
  let open = 0;
  let fullRate = 0;
  let closedInWindow = 0;
  let messages = 0;
  let kbpsSum = 0;
  let kbpsMin = Infinity;
  let mediaRateMin = Infinity;
  const closeReasons: Record<string, number> = {};
  for (const l of openAtMark) {
    if (l.phase === Phase.Closed) {
      closedInWindow++;
      closeReasons[l.closeReason] = (closeReasons[l.closeReason] ?? 0) + 1;
      continue;
    }
    open++;
    messages += l.messages - l.markMessages;
    const kbps = ((l.bytes - l.markBytes) * 8) / 1000 / windowS;
    kbpsSum += kbps;
    kbpsMin = Math.min(kbpsMin, kbps);
    const mediaRate = Number.isNaN(l.markMediaMs) ? 0 : (l.mediaMs - l.markMediaMs) / 1000 / windowS;
    mediaRateMin = Math.min(mediaRateMin, mediaRate);
    if (mediaRate >= FULL_RATE_SHARE) fullRate++;
  }
  return {
    windowS,
    open,
    fullRate,
    closedInWindow,
    closeReasons,
    messages,
    kbpsMean: open > 0 ? kbpsSum / open : 0,
    kbpsMin: open > 0 ? kbpsMin : 0,
    mediaRateMin: open > 0 ? mediaRateMin : 0,
    lagP50Ms: lag.lag(0.5),
    lagP99Ms: lag.lag(0.99),
    lagMaxMs: lag.count > 0 ? lag.maxOffset - lag.minOffset : NaN,
    lagCount: lag.count,
    spreadP50Ms: spread.quantile(0.5),
    spreadP99Ms: spread.quantile(0.99),
    spreadMaxMs: spread.count > 0 ? spread.maxMs : NaN,
  };
}

function send(m: FromHarness): void {
  process.send!(m);
}

process.on('disconnect', () => process.exit(0)); // the benchmark went away: stop
process.on('message', (msg: ToHarness) => {
  if (msg.cmd === 'grow') void grow(msg.target, msg.listeners, msg.joinRate).then((g) => send({ type: 'grown', grow: g }));
  else if (msg.cmd === 'mark') {
    mark();
    send({ type: 'marked' });
  } else if (msg.cmd === 'report') send({ type: 'report', report: report() });
  else if (msg.cmd === 'exit') {
    for (const l of listeners) l.socket?.destroy();
    setTimeout(() => process.exit(0), 100);
  }
});
