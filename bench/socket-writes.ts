/**
 * What one WebSocket send costs the sender, per socket: the floor under the relay's listener
 * fan-out (relay/src/listen/listener.ts). A server with N open WebSockets (the `ws`
 * library, as the relay's) sends one 100-byte binary message to every socket every
 * `--period` ms, three ways:
 *
 *   ws      `WebSocket.send` of one shared Buffer (what the relay does)
 *   raw     one pre-built frame (header and payload), written to each socket with
 *           `net.Socket.write`, past ws's Sender
 *   handle  the same frame handed to the socket's libuv handle (`_handle.writeBuffer`),
 *           past Node's stream machinery: Node-internal, for the floor only, never for use
 *
 * The server runs on core 1 and the clients (raw sockets that read and discard) on core 0,
 * so the CPU figure is the sender's own, kernel time included (on loopback the sender's
 * core also runs the receivers' TCP).
 *
 *   node --import tsx bench/socket-writes.ts [--sockets 1000] [--period 20] [--seconds 10]
 */
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { cpuPlan, pinSelf } from './cpu-pinning.ts';

const MODES = ['ws', 'raw', 'handle'] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '1000' },
    period: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
    role: { type: 'string', default: 'main' },
    mode: { type: 'string', default: 'ws' },
    port: { type: 'string', default: '0' },
    cpus: { type: 'string', default: '' },
  },
});
const sockets = Number(values.sockets);
const periodMs = Number(values.period);
const seconds = Number(values.seconds);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server: accepts `sockets` WebSockets, then sends to all of them every period and reports its CPU per send. */
async function server(mode: Mode): Promise<void> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  const open: WebSocket[] = [];
  wss.on('connection', (ws) => open.push(ws));
  await new Promise((r) => wss.once('listening', r));
  process.send?.({ port: (wss.address() as net.AddressInfo).port });
  while (open.length < sockets) await sleep(50);
  const payload = Buffer.alloc(100, 7);
  const frame = Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
  const options = { binary: true, compress: false };
  const raw = open.map((ws) => (ws as unknown as { _socket: net.Socket })._socket);
  const handles = raw.map((s) => (s as unknown as { _handle: { writeBuffer(req: object, b: Buffer): number } })._handle);
  let sends = 0;
  const timer = setInterval(() => {
    if (mode === 'ws') for (const ws of open) ws.send(payload, options);
    else if (mode === 'raw') for (const s of raw) s.write(frame);
    else for (const h of handles) h.writeBuffer({ oncomplete() {} }, frame);
    sends += open.length;
  }, periodMs);
  await sleep(2000);
  const cpu0 = process.cpuUsage();
  const sends0 = sends;
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  const n = sends - sends0;
  process.send?.({ mode, sends: n, userUs: cpu.user / n, systemUs: cpu.system / n });
  process.exit(0);
}

/** The clients: `sockets` raw WebSocket upgrades that read and discard. */
async function clients(port: number): Promise<void> {
  for (let i = 0; i < sockets; i++) {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    if (i % 50 === 49) await sleep(20);
  }
}

async function main(): Promise<void> {
  const plan = cpuPlan('pinned');
  execFileSync('prlimit', ['--nofile=20000:20000', '--pid', String(process.pid)]);
  console.log(`${plan.label}; ${sockets} sockets, 100-byte messages every ${periodMs} ms, ${seconds} s window`);
  for (const mode of MODES) {
    const srv = fork(process.argv[1], ['--role', 'server', '--mode', mode, '--sockets', String(sockets), '--period', String(periodMs), '--seconds', String(seconds), '--cpus', plan.relay ?? ''], { execArgv: process.execArgv });
    const port = await new Promise<number>((r) => srv.once('message', (m: { port: number }) => r(m.port)));
    const cli = fork(process.argv[1], ['--role', 'clients', '--port', String(port), '--sockets', String(sockets), '--cpus', plan.load ?? ''], { execArgv: process.execArgv });
    const r = await new Promise<{ sends: number; userUs: number; systemUs: number }>((res) => srv.once('message', res));
    cli.kill();
    console.log(`${mode.padEnd(6)} ${(r.userUs + r.systemUs).toFixed(2)} us per send (user ${r.userUs.toFixed(2)}, system ${r.systemUs.toFixed(2)}), ${r.sends} sends`);
  }
}

if (values.cpus !== '') pinSelf(values.cpus);
if (values.role === 'server') await server(values.mode as Mode);
else if (values.role === 'clients') await clients(Number(values.port));
else await main();
