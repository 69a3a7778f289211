/**
 * A flood of cheap connections, as an attacker would send it (issue: "one client can
 * exhaust the relay"): many ingest sockets that each send `start` and one tiny packet and
 * then hold on, and many that send nothing at all. Used by the flood test and benchmark.
 */
import WebSocket from 'ws';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';

export interface FloodOptions {
  /** ws://host:port/ws/ingest */
  url: string;
  /** Sockets that send `start` and one packet. */
  stations: number;
  /** Sockets that send nothing. */
  idle: number;
  /** Local address to connect from (another 127.x address is another client). */
  localAddress?: string;
  /** New connections per second (the relay's listen backlog is finite). */
  ratePerS?: number;
}

export interface FloodSocket {
  ws: WebSocket;
  kind: 'station' | 'idle';
  /** Close code, once closed (1006 when the upgrade was refused or the socket was cut). */
  closeCode: number | null;
  closeReason: string;
  /** HTTP status of a refused upgrade. */
  refusedStatus: number | null;
  messages: { type: string; code?: string; message?: string }[];
  closed: Promise<void>;
}

/** One 20 ms Opus packet of silence (a TOC byte for CELT FB 20 ms and two bytes). */
const TINY_OPUS = Uint8Array.of(0xfc, 0xff, 0xfe);

export async function flood(opts: FloodOptions): Promise<FloodSocket[]> {
  const out: FloodSocket[] = [];
  const total = opts.stations + opts.idle;
  const gapMs = 1000 / (opts.ratePerS ?? 500);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    // Idle sockets spread evenly among the stations.
    const idle = Math.floor(((i + 1) * opts.idle) / total) > Math.floor((i * opts.idle) / total);
    out.push(open(opts, idle ? 'idle' : 'station'));
    const wait = t0 + (i + 1) * gapMs - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }
  return out;
}

function open(opts: FloodOptions, kind: 'station' | 'idle'): FloodSocket {
  const ws = new WebSocket(opts.url, { perMessageDeflate: false, localAddress: opts.localAddress });
  const s: FloodSocket = { ws, kind, closeCode: null, closeReason: '', refusedStatus: null, messages: [], closed: Promise.resolve() };
  s.closed = new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      s.refusedStatus = res.statusCode ?? null;
      res.resume();
      ws.terminate(); // a handled refusal is not closed by ws itself
    });
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      s.closeCode = code;
      s.closeReason = reason.toString();
      resolve();
    });
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) s.messages.push(JSON.parse(data.toString()) as FloodSocket['messages'][number]);
  });
  if (kind === 'station') {
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'start', codec: 'opus', sample_rate: 48000, channels: 1, frame_ms: 20 }));
      ws.send(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.opus, flags: 0 }, TINY_OPUS));
    });
  }
  return s;
}
