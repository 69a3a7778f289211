/**
 * A raw ingest WebSocket client for tests: every server message kept, the close code and
 * reason, and a wait for the next message of a type.
 */
import WebSocket from 'ws';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import { waitFor } from './harness.ts';

export interface IngestClient {
  ws: WebSocket;
  messages: IngestServerMessage[];
  closed: Promise<{ code: number; reason: string }>;
  next(type: IngestServerMessage['type']): Promise<IngestServerMessage>;
}

export const PCM16_START = { type: 'start', codec: 'pcm16', sample_rate: 48000, channels: 1, frame_ms: 20 } as const;

/** Opens a connection (from `localAddress` when given: another 127.x address is another client; `ca`: the only CA a wss:// relay is trusted by). */
export async function connectIngest(url: string, opts: { localAddress?: string; headers?: Record<string, string>; ca?: string | Buffer } = {}): Promise<IngestClient> {
  const ws = new WebSocket(url, { localAddress: opts.localAddress, headers: opts.headers, perMessageDeflate: false, ...(opts.ca === undefined ? {} : { ca: opts.ca }) });
  const messages: IngestServerMessage[] = [];
  ws.on('message', (d, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(d.toString()) as IngestServerMessage);
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return {
    ws,
    messages,
    closed,
    next: (type) => waitFor(() => messages.find((m) => m.type === type), 5000, `a ${type} message`),
  };
}
