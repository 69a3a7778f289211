import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { wsBinaryFrame } from './ws-frame.ts';

/** Payloads at each edge of the three length encodings. */
const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 200_000];

function payload(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + n) & 0xff;
  return b;
}

describe('wsBinaryFrame', () => {
  let server: WebSocketServer;
  let url: string;
  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Each connection gets every frame written straight to its socket, then a text message through ws.
    server.on('connection', (ws, req) => {
      for (const n of SIZES) req.socket.write(wsBinaryFrame(payload(n)));
      ws.send('done');
    });
  });
  afterAll(() => server.close());

  it('writes frames that a WebSocket client reads as the same binary messages, in order with ws own', async () => {
    const client = new WebSocket(url, { perMessageDeflate: false });
    const got: { binary: boolean; data: Buffer }[] = [];
    client.on('message', (data, isBinary) => got.push({ binary: isBinary, data: data as Buffer }));
    await new Promise<void>((resolve, reject) => {
      client.on('message', (_d, isBinary) => (isBinary ? undefined : resolve()));
      client.on('error', reject);
    });
    client.close();
    expect(got.map((m) => m.binary)).toEqual([...SIZES.map(() => true), false]);
    SIZES.forEach((n, i) => expect(got[i]!.data.equals(payload(n))).toBe(true));
  });

  it('uses the shortest length encoding', () => {
    expect(wsBinaryFrame(payload(125)).length).toBe(2 + 125);
    expect(wsBinaryFrame(payload(126)).subarray(0, 4)).toEqual(Buffer.from([0x82, 126, 0, 126]));
    expect(wsBinaryFrame(payload(65536)).subarray(0, 10)).toEqual(Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]));
  });
});
