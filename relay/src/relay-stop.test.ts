/**
 * The relay's stop is not held by a client: one that asks for a long export and then
 * neither reads nor closes its socket (a stalled phone, a hung tool) would keep
 * `app.close()` waiting for its response forever. The stop lets requests in flight finish
 * for a few seconds, then cuts their connections.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sine } from './audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from './sim/simulator.ts';
import { startTestRelay, waitFor } from './testing/harness.ts';

describe('Relay.stop', () => {
  it('ends within its grace while a client holds a long export without reading it', async () => {
    const t = await startTestRelay();
    let client: Socket | null = null;
    try {
      const station = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(sine(440, -20, 1, 48000), 48000, 'pcm16'), stationKey: 'stop-test', durationS: 1 });
      const traceId = (await station.connect()).trace_id;
      await runStations([station]);
      const now = Date.now();
      // Two hours of 48 kHz WAV (691 MB): far more than the socket buffers hold unread.
      const q = new URLSearchParams({ trace_id: traceId, station_key: 'stop-test', tap: 'PRE', format: 'wav', from: new Date(now - 7_200_000).toISOString(), to: new Date(now).toISOString() });
      const c = connect(new URL(t.httpUrl).port as unknown as number, '127.0.0.1');
      client = c;
      let head = '';
      c.on('data', (d: Buffer) => {
        if (head.length < 512) head += d.toString('latin1');
        c.pause(); // read the status line, then nothing more
      });
      c.write(`GET /api/audio/export?${q} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.relay.adminToken}\r\nConnection: keep-alive\r\n\r\n`);
      await waitFor(() => (head.startsWith('HTTP/1.1 200') ? true : undefined), 10_000, 'the export answering 200');

      const started = performance.now();
      await t.close();
      const stopMs = performance.now() - started;
      // The 5 s grace, plus the rest of the stop; without the cut it never ends (the test times out).
      expect(stopMs).toBeGreaterThan(4_500);
      expect(stopMs).toBeLessThan(15_000);
      // Reading again, the client finds its connection cut.
      const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
      c.removeAllListeners('data');
      c.resume();
      await waitFor(async () => ((await Promise.race([closed.then(() => true), new Promise<undefined>((r) => setTimeout(r, 100))])) ? true : undefined), 10_000, 'the client\'s connection cut');
    } finally {
      client?.destroy();
      await t.close();
    }
  }, 60_000);
});
