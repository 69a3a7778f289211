/**
 * The impairment proxy on loopback: numbered datagrams from a sender socket through the
 * proxy to a receiver socket that answers each one (as an RTCP receiver report would), with
 * loss and jitter forward and the answers coming back the other way.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../harness.ts';
import { UdpImpairmentProxy, type UdpImpairmentProxyOptions } from './udp-impairment-proxy.ts';

const open: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  let closed = false;
  open.push({
    close: () =>
      closed ? undefined : new Promise<void>((resolve) => {
        closed = true;
        s.close(() => resolve());
      }),
  });
  return s;
}

interface Rig {
  proxy: UdpImpairmentProxy;
  sender: Socket;
  /** Sequence numbers in the order the receiver got them. */
  received: number[];
  /** One-way delay of each received datagram, ms. */
  delaysMs: number[];
  /** Sequence numbers of the receiver's answers, in the order the sender got them. */
  answers: number[];
  send(seq: number): void;
}

/** A sender, a receiver that echoes each datagram back to where it came from, and the proxy between. */
async function rig(options: Omit<UdpImpairmentProxyOptions, 'targetPort'>): Promise<Rig> {
  const receiver = await udp();
  const sender = await udp();
  const proxy = await UdpImpairmentProxy.start({ ...options, targetPort: receiver.address().port });
  open.push(proxy);
  const r: Rig = {
    proxy,
    sender,
    received: [],
    delaysMs: [],
    answers: [],
    send(seq) {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(seq, 0);
      b.writeDoubleBE(performance.now(), 4);
      sender.send(b, proxy.port, '127.0.0.1');
    },
  };
  receiver.on('message', (msg, rinfo) => {
    r.received.push(msg.readUInt32BE(0));
    r.delaysMs.push(performance.now() - msg.readDoubleBE(4));
    receiver.send(msg, rinfo.port, rinfo.address);
  });
  sender.on('message', (msg) => r.answers.push(msg.readUInt32BE(0)));
  return r;
}

/** Sends `count` datagrams from `first`, 4 every 2 ms (about 2000 per second). */
async function sendPaced(r: Rig, first: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    r.send(first + i);
    if (i % 4 === 3) await sleep(2);
  }
}

/** Waits until both directions have nothing queued and the counts stop moving. */
async function settle(r: Rig): Promise<void> {
  await waitFor(() => {
    const s = r.proxy.stats();
    return s.forward.inFlight === 0 && s.reverse.inFlight === 0 && r.answers.length === s.reverse.forwarded ? true : undefined;
  }, 5000, 'the proxy to drain');
  await sleep(50);
}

/** Datagrams that arrived before some datagram sent earlier than them (they overtook it). */
const countOvertakers = (seqs: number[]): number => {
  let n = 0;
  let minAfter = Infinity;
  for (let i = seqs.length - 1; i >= 0; i--) {
    if (seqs[i] > minAfter) n++;
    else minAfter = seqs[i];
  }
  return n;
};

describe('UdpImpairmentProxy', () => {
  it('500 datagrams with 5 % loss and 20 ms jitter: loss near 5 %, reordering, delays within the jitter, answers all back', async () => {
    const N = 500;
    const r = await rig({ forward: { lossPercent: 5, jitterMs: 20, allowReorder: true, seed: 77 } });
    await sendPaced(r, 0, N);
    await settle(r);
    const s = r.proxy.stats();
    // Loopback loses nothing, so the receiver gets exactly what the model delivered...
    expect(r.received.length).toBe(s.forward.delivered);
    expect(s.forward).toMatchObject({ sent: N, overflowDropped: 0, sendErrors: 0 });
    // ...and that is within 4 binomial sd (4·√(500·0.05·0.95) = 19.5) of 475.
    expect(Math.abs(r.received.length - N * 0.95)).toBeLessThan(4 * Math.sqrt(N * 0.05 * 0.95));
    // With 20 ms of jitter and 0.5 ms between datagrams nearly every one is overtaken or overtakes.
    expect(countOvertakers(r.received)).toBeGreaterThan(N / 10);
    expect(countOvertakers(r.received)).toBe(s.forward.reordered);
    // Delay is the uniform 0..20 ms draw plus timer and loopback latency (about 1 ms idle; up to
    // 50 ms allowed for a machine busy with other work). The draw alone has a mean of 10 ms with
    // an sd of the mean of 5.77/√471 = 0.27 ms; latency only adds.
    expect(Math.min(...r.delaysMs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...r.delaysMs)).toBeLessThan(20 + 50);
    const meanMs = r.delaysMs.reduce((a, b) => a + b, 0) / r.delaysMs.length;
    expect(meanMs).toBeGreaterThan(10 - 4 * (20 / Math.sqrt(12) / Math.sqrt(r.delaysMs.length)));
    expect(meanMs).toBeLessThan(10 + 10);
    // Clean reverse path: every answer returns to the sender, through the proxy's listening port.
    expect(r.answers.length).toBe(r.received.length);
    expect(s.reverse).toMatchObject({ sent: r.received.length, dropped: 0, forwarded: r.received.length, noPeerDropped: 0 });
    expect([...r.answers].sort((a, b) => a - b)).toEqual([...r.received].sort((a, b) => a - b));
  });

  it('keeps order under jitter when allowReorder is false', async () => {
    const r = await rig({ forward: { jitterMs: 20, seed: 5 } });
    await sendPaced(r, 0, 200);
    await settle(r);
    expect(r.received.length).toBe(200);
    expect(r.received).toEqual([...r.received].sort((a, b) => a - b));
  });

  it('impairs the reverse path with its own model', async () => {
    const N = 300;
    const r = await rig({ reverse: { lossPercent: 50, seed: 3 } });
    await sendPaced(r, 0, N);
    await settle(r);
    expect(r.received.length).toBe(N);
    expect(r.answers.length).toBe(r.proxy.stats().reverse.delivered);
    expect(Math.abs(r.answers.length - N / 2)).toBeLessThan(4 * Math.sqrt(N * 0.25));
  });

  it('setOptions takes effect on the next datagram: a dead path comes back, jitter stops', async () => {
    const r = await rig({ forward: { lossPercent: 100 } });
    await sendPaced(r, 0, 50);
    await sleep(50);
    expect(r.received.length).toBe(0);
    r.proxy.setOptions({ forward: { baseDelayMs: 60, jitterMs: 40, allowReorder: true } });
    await sendPaced(r, 50, 100);
    await settle(r);
    expect(r.received.length).toBe(100);
    const jitteredMs = r.delaysMs.slice();
    expect(Math.min(...jitteredMs)).toBeGreaterThanOrEqual(60);
    r.proxy.setOptions({ forward: {} });
    await sendPaced(r, 150, 100);
    await settle(r);
    expect(r.received.length).toBe(200);
    const cleanMs = r.delaysMs.slice(100);
    expect(r.received.slice(100)).toEqual(Array.from({ length: 100 }, (_, i) => 150 + i));
    // Clean now: loopback and timer latency only, far below the 60 ms floor of the jittered ones.
    expect(Math.max(...cleanMs)).toBeLessThan(40);
    expect(r.proxy.stats().forward).toMatchObject({ sent: 250, dropped: 50, delivered: 200 });
  });

  it('caps datagrams in flight and counts the overflow', async () => {
    const r = await rig({ forward: { baseDelayMs: 100 }, maxInFlightPackets: 10 });
    for (let i = 0; i < 30; i++) r.send(i);
    await waitFor(() => (r.proxy.stats().forward.sent === 30 ? true : undefined), 2000, '30 datagrams at the proxy');
    expect(r.proxy.stats().forward).toMatchObject({ inFlight: 10, overflowDropped: 20 });
    await settle(r);
    expect(r.received).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('close() clears its timers, discards what is queued, closes its sockets, and is idempotent', async () => {
    const receiver = await udp();
    const sender = await udp();
    const got: Buffer[] = [];
    receiver.on('message', (m) => got.push(m));
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((k) => k === kind).length;
    await sleep(20);
    const socketsBefore = count('UDPWrap');
    const proxy = await UdpImpairmentProxy.start({ targetPort: receiver.address().port, forward: { baseDelayMs: 10_000 } });
    for (let i = 0; i < 10; i++) sender.send(Buffer.from([i]), proxy.port, '127.0.0.1');
    await waitFor(() => (proxy.stats().forward.inFlight === 10 ? true : undefined), 2000, '10 queued datagrams');
    expect(count('UDPWrap')).toBe(socketsBefore + 2);
    expect(proxy.stats().forward.timerArmed).toBe(true);
    // Timers of the test runner come and go, so compare within one synchronous step: close()
    // must remove exactly the one timer holding the 10 queued datagrams.
    const timersOpen = count('Timeout');
    const first = proxy.close();
    expect(count('Timeout')).toBe(timersOpen - 1);
    expect(proxy.stats().forward.timerArmed).toBe(false);
    expect(proxy.close()).toBe(first);
    await first;
    await proxy.close();
    // dgram emits 'close' before libuv has released the handle; it goes on the next loop turns.
    await waitFor(() => (count('UDPWrap') === socketsBefore ? true : undefined), 1000, 'both proxy sockets released');
    expect(proxy.stats().forward).toMatchObject({ inFlight: 0, discardedOnClose: 10, forwarded: 0 });
    expect(got.length).toBe(0);
  });

  it('a process that closes its proxy with datagrams still queued exits by itself', async () => {
    // Nothing but the proxy keeps this child's event loop alive: a queued datagram 60 s out,
    // a sender and a receiver that are closed before close() is called on the proxy.
    const script = `
      import { createSocket } from 'node:dgram';
      import { UdpImpairmentProxy } from './udp-impairment-proxy.ts';
      const rx = createSocket('udp4');
      await new Promise((r) => rx.bind(0, '127.0.0.1', r));
      const proxy = await UdpImpairmentProxy.start({ targetPort: rx.address().port, forward: { baseDelayMs: 60000 }, reverse: { baseDelayMs: 60000 } });
      const tx = createSocket('udp4');
      await new Promise((r) => tx.send(Buffer.from('x'), proxy.port, '127.0.0.1', r));
      while (proxy.stats().forward.inFlight === 0) await new Promise((r) => setImmediate(r));
      tx.close(); rx.close();
      await proxy.close();
      await proxy.close();
      console.log(JSON.stringify(proxy.stats().forward));
    `;
    const cwd = fileURLToPath(new URL('.', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    open.push({ close: () => child.kill('SIGKILL') });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      // A leaked timer would keep it up for 60 s: give up at 15 s, which fails the test below.
      const giveUp = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('exit', (c) => {
        clearTimeout(giveUp);
        resolve(c);
      });
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    // Well before the 60 s delay (tsx start-up takes about a second on this machine).
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(JSON.parse(out)).toMatchObject({ sent: 1, discardedOnClose: 1, forwarded: 0, timerArmed: false });
  });
});
