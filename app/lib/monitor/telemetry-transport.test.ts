import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Measurement, SpectrumMessage } from '$protocol/telemetry';
import { parseSpectrum, parseTelemetryFrame } from './measurement';
import { TelemetryTransport, type SocketLike, type TransportState } from './telemetry-transport';

class FakeSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
}

const measurement = (seq: number): Measurement => ({ ts: '2026-01-03T21:15:00.000Z', seq, stations: {} });
const frame = (seq: number): string => JSON.stringify({ type: 'measurement', ts: '2026-01-03T21:15:00.000Z', seq, data: measurement(seq) });

describe('TelemetryTransport', () => {
  let sockets: FakeSocket[];
  let polls: number;
  let pollOk: boolean;
  let seqs: number[];
  let states: TransportState[];
  let nextSeq: number;
  let t: TelemetryTransport;
  let spectra: SpectrumMessage[];
  let urls: string[];
  let spectrumOf: string;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    polls = 0;
    pollOk = true;
    seqs = [];
    states = [];
    nextSeq = 1;
    spectra = [];
    urls = [];
    spectrumOf = '';
    t = new TelemetryTransport({
      measurementsUrl: '/measurements',
      socketUrl: () => `ws://relay/ws/telemetry${spectrumOf ? `?spectrum=${spectrumOf}` : ''}`,
      openSocket: (url) => {
        urls.push(url);
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
      fetch: async () => {
        polls++;
        if (!pollOk) throw new TypeError('network error');
        return new Response(JSON.stringify(measurement(nextSeq++)));
      },
      now: () => Date.now(),
      onMeasurement: (m) => seqs.push(m.seq),
      onSpectrum: (s) => spectra.push(s),
      onState: (s) => states.push(s),
    });
  });

  afterEach(() => {
    t.close();
    vi.useRealTimers();
  });

  it('bootstraps from a snapshot, goes live on the socket, polls and reconnects with backoff when it drops', async () => {
    t.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(polls).toBe(1);
    expect(t.state).toBe('polling');
    const first = sockets[0];
    first.onopen?.({});
    first.onmessage?.({ data: frame(10) });
    expect(t.state).toBe('live');
    expect(seqs).toEqual([1, 10]);
    // A spectrum message or garbage is ignored.
    first.onmessage?.({ data: '{"type":"spectrum"}' });
    first.onmessage?.({ data: 'not json' });
    expect(seqs).toEqual([1, 10]);

    // Live: no polling.
    await vi.advanceTimersByTimeAsync(2500);
    expect(polls).toBe(1);

    // Dropped: polling every second, the state is polling, reconnection after 0.5-0.6 s.
    nextSeq = 11;
    first.onclose?.({});
    expect(t.state).toBe('polling');
    await vi.advanceTimersByTimeAsync(1000);
    expect(polls).toBe(3); // one at once, one a second later
    expect(t.state).toBe('polling');
    expect(seqs.slice(-2)).toEqual([11, 12]);
    expect(sockets).toHaveLength(2);
    // The second attempt fails: the next waits about twice as long.
    sockets[1].onclose?.({});
    await vi.advanceTimersByTimeAsync(900);
    expect(sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(400);
    expect(sockets).toHaveLength(3);
    expect(polls).toBeGreaterThanOrEqual(3);

    // Back: live again, polling stops, attempts reset.
    sockets[2].onopen?.({});
    sockets[2].onmessage?.({ data: frame(50) });
    expect(t.state).toBe('live');
    expect(t.attempts).toBe(0);
    const pollsThen = polls;
    await vi.advanceTimersByTimeAsync(2000);
    expect(polls).toBe(pollsThen);
    expect(states).toEqual(['polling', 'live', 'polling', 'live']);
  });

  it('goes stale when neither socket nor polling delivers, keeping the last measurement', async () => {
    pollOk = false;
    t.start();
    sockets[0].onopen?.({});
    sockets[0].onmessage?.({ data: frame(5) });
    expect(t.state).toBe('live');
    sockets[0].onclose?.({});
    await vi.advanceTimersByTimeAsync(3600);
    expect(t.state).toBe('stale');
    expect(seqs).toEqual([5]);
  });

  it('drops a socket that is open but silent, and ignores late poll answers', async () => {
    t.start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].onopen?.({});
    sockets[0].onmessage?.({ data: frame(20) });
    sockets[0].onmessage?.({ data: frame(19) });
    expect(seqs).toEqual([1, 20]);
    await vi.advanceTimersByTimeAsync(4500);
    expect(sockets[0].closed).toBe(true);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
  });

  it('reconnectNow() skips the rest of a long backoff once the relay is known to be back', async () => {
    pollOk = false;
    t.start();
    await vi.advanceTimersByTimeAsync(0);
    // Six failed connections: the next attempt is 10 s (the cap) away.
    for (let i = 0; i < 6; i++) {
      sockets[sockets.length - 1].onclose?.({});
      await vi.advanceTimersByTimeAsync(Math.min(10_000, 500 * 2 ** i) * 1.2 + 1);
    }
    const before = sockets.length;
    sockets[before - 1].onclose?.({});
    expect(t.attempts).toBe(7);
    pollOk = true;
    const pollsBefore = polls;
    t.reconnectNow();
    expect(sockets).toHaveLength(before + 1);
    expect(t.attempts).toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(polls).toBe(pollsBefore + 1);
    sockets[before].onopen?.({});
    sockets[before].onmessage?.({ data: frame(50) });
    expect(t.state).toBe('live');
    // The cancelled backoff timer does not open another socket (the live one keeps talking).
    for (let i = 0; i < 13; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      sockets[before].onmessage?.({ data: frame(51 + i) });
    }
    expect(sockets).toHaveLength(before + 1);
    // An open socket is left alone.
    t.reconnectNow();
    expect(sockets).toHaveLength(before + 1);
  });

  it('close() stops everything and is safe twice', async () => {
    t.start();
    t.close();
    t.close();
    expect(sockets[0].closed).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sockets).toHaveLength(1);
  });

  it('hands on valid spectrum messages and reopens the socket for another station, staying live', async () => {
    t.start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].onopen?.({});
    sockets[0].onmessage?.({ data: frame(3) });
    expect(t.state).toBe('live');
    spectrumOf = 'st_b';
    t.reopen();
    expect(sockets[0].closed).toBe(true);
    expect(urls).toEqual(['ws://relay/ws/telemetry', 'ws://relay/ws/telemetry?spectrum=st_b']);
    // Opening: still live (no flash of polling), and no poll started.
    expect(t.state).toBe('live');
    await vi.advanceTimersByTimeAsync(1500);
    expect(polls).toBe(1);
    sockets[1].onopen?.({});
    sockets[1].onmessage?.({ data: JSON.stringify(spectrum('POST')) });
    sockets[1].onmessage?.({ data: JSON.stringify({ ...spectrum('PRE'), db: [-20] }) });
    // A message from the socket let go of is not taken.
    sockets[0].onmessage?.({ data: JSON.stringify(spectrum('PRE')) });
    expect(spectra.map((s) => s.tap)).toEqual(['POST']);
    expect(seqs).toEqual([1, 3]);
    expect(states).toEqual(['polling', 'live']);
  });

  it('falls back to polling when the reopened socket never answers', async () => {
    t.start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].onopen?.({});
    sockets[0].onmessage?.({ data: frame(3) });
    t.reopen();
    await vi.advanceTimersByTimeAsync(3600);
    expect(t.state).toBe('polling');
    expect(polls).toBeGreaterThan(1);
  });
});

const spectrum = (tap: 'PRE' | 'POST'): SpectrumMessage => ({
  type: 'spectrum',
  ts: '2026-01-03T21:15:00.000Z',
  seq: 7,
  trace_id: 'tr_a',
  station_key: 'st_b',
  tap,
  bands_hz: [20, 22.45, 25.2],
  db: [-80, -60.5, -90],
});

describe('parsing spectrum messages', () => {
  it('takes a well-formed one', () => {
    expect(parseSpectrum(spectrum('PRE'))).toEqual(spectrum('PRE'));
    expect(parseTelemetryFrame(JSON.stringify(spectrum('POST')))).toEqual({ type: 'spectrum', spectrum: spectrum('POST') });
  });

  it('refuses what is not one', () => {
    const bad: [string, unknown][] = [
      ['another type', { ...spectrum('PRE'), type: 'measurement' }],
      ['an unknown tap', { ...spectrum('PRE'), tap: 'MID' }],
      ['fewer levels than bands', { ...spectrum('PRE'), db: [-1, -2] }],
      ['no bands', { ...spectrum('PRE'), bands_hz: [], db: [] }],
      ['bands not rising', { ...spectrum('PRE'), bands_hz: [20, 20, 25] }],
      ['a band at 0 Hz', { ...spectrum('PRE'), bands_hz: [0, 22, 25] }],
      ['a level that is not a number', { ...spectrum('PRE'), db: [-1, null, -3] }],
      ['no station', { ...spectrum('PRE'), station_key: undefined }],
      ['too many bands', { ...spectrum('PRE'), bands_hz: Array.from({ length: 300 }, (_, i) => i + 1), db: new Array(300).fill(-50) }],
    ];
    for (const [what, v] of bad) expect(parseSpectrum(v), what).toBeNull();
    expect(parseTelemetryFrame('{"type":"spectrum","seq":1}')).toBeNull();
    expect(parseTelemetryFrame('{"type":"hello"}')).toBeNull();
  });
});

