/**
 * Clock drift in real time (seed 004 §7): two WebSocket senders whose clocks run 0.1 % fast
 * and 0.1 % slow stream a speech-like signal to a real relay (in this process, on
 * 127.0.0.1) for `--minutes`; the relay's jitter buffer must follow each by its accelerate /
 * preemptive-expand decisions alone: no resync, nothing dropped.
 *
 *   npm run bench:drift -- [--minutes 10] [--drift 0.001] [--report-s 30]
 *
 * Every `--report-s` seconds, and at the end, it prints each station's figures from
 * `GET /api/relay/stats`: resyncs, frames dropped and concealed, the buffer's accelerate and
 * expand decisions (and the audio they removed or inserted), its mean delay and target, and
 * the E-model MOS. 0.1 % over 10 minutes is 600 ms: about 30 decisions of 20 ms each way.
 */
import { parseArgs } from 'node:util';
import type { RelayStatsResponse, StationStats } from '../protocol/api.ts';
import { speechLike } from '../relay/src/audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../relay/src/sim/simulator.ts';
import { startTestRelay } from '../relay/src/testing/harness.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    drift: { type: 'string', default: '0.001' },
    'report-s': { type: 'string', default: '30' },
  },
});
const minutes = Number(values.minutes);
const drift = Number(values.drift);
const reportS = Number(values['report-s']);
if (!(minutes > 0 && minutes <= 240)) throw new RangeError(`--minutes must be in (0, 240], got ${values.minutes}`);
if (!(drift > 0 && drift < 0.05)) throw new RangeError(`--drift must be in (0, 0.05), got ${values.drift}`);
if (!(reportS >= 1)) throw new RangeError(`--report-s must be at least 1, got ${values['report-s']}`);

const RATE = 48000;

function row(name: string, s: StationStats | undefined): string {
  if (s === undefined) return `${name.padEnd(6)} (not reported yet)`;
  const q = s.call_quality;
  const f = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '-' : v.toFixed(d));
  return [
    name.padEnd(6),
    `frames ${String(s.frames_received ?? 0).padStart(6)}`,
    `resyncs ${s.resyncs ?? 0}`,
    `dropped ${s.frames_dropped ?? 0}`,
    `concealed ${s.frames_concealed ?? 0}`,
    `accelerate ${q?.accelerate_decisions ?? '-'} (removed ${f(q?.removed_ms, 0)} ms)`,
    `expand ${q?.expand_decisions ?? '-'} (inserted ${f(q?.inserted_ms, 0)} ms)`,
    `delay ${f(q?.jitter_buffer_delay_ms)} ms target ${f(q?.jitter_buffer_target_ms)} ms`,
    `lost ${q?.packets_lost ?? '-'} late ${q?.packets_late ?? '-'}`,
    `MOS ${f(q?.mos, 2)} ${q?.level ?? ''}`,
  ].join('  ');
}

async function main(): Promise<void> {
  const t = await startTestRelay({ mediaWorkers: 1 });
  try {
    const headers = { authorization: `Bearer ${t.relay.adminToken}` };
    const audio = encodeAudio(speechLike(-20, 10, RATE, 1), RATE, 'opus');
    const fast = new SimulatedStation({ url: t.wsUrl, audio, label: 'fast', stationKey: 'drift-fast', durationS: minutes * 60, speed: 1 + drift, headers });
    const slow = new SimulatedStation({ url: t.wsUrl, audio, label: 'slow', stationKey: 'drift-slow', durationS: minutes * 60 * (1 - drift), speed: 1 - drift, headers });
    await Promise.all([fast.connect(), slow.connect()]);
    console.log(`clock drift: two Opus senders, clocks ${(drift * 100).toFixed(2)} % fast and slow, ${minutes} min, relay on ${t.httpUrl}`);
    const stats = async (): Promise<Map<string, StationStats>> => {
      const res = await fetch(`${t.httpUrl}/api/relay/stats`, { headers });
      const body = (await res.json()) as RelayStatsResponse;
      return new Map(body.stations.map((s) => [s.station_key, s]));
    };
    const started = Date.now();
    let last = new Map<string, StationStats>();
    let reported = 0;
    // Read every second (so the last figures before the stations end are at most a second
    // old), print every --report-s.
    const timer = setInterval(() => {
      void stats().then((m) => {
        if (m.has('drift-fast') || m.has('drift-slow')) last = m;
        const elapsedS = (Date.now() - started) / 1000;
        if (elapsedS < (reported + 1) * reportS) return;
        reported = Math.floor(elapsedS / reportS);
        console.log(`t=${elapsedS.toFixed(0)}s\n  ${row('fast', m.get('drift-fast'))}\n  ${row('slow', m.get('drift-slow'))}`);
      });
    }, 1000);
    await runStations([fast, slow]);
    clearInterval(timer);
    // The stations end with their senders; read the figures of the last report before that
    // and once more now (a station that ended is no longer listed).
    const end = await stats();
    const final = (k: string): StationStats | undefined => end.get(k) ?? last.get(k);
    console.log(`final (after ${((Date.now() - started) / 60000).toFixed(2)} min)\n  ${row('fast', final('drift-fast'))}\n  ${row('slow', final('drift-slow'))}`);
  } finally {
    await t.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
