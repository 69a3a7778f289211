/**
 * A media worker: runs the pipelines of the stations assigned to it, off the control
 * plane's event loop. It talks to the control plane only through the messages of
 * `messages.ts`, and shares with it only the slabs of segment audio it announces there; it
 * does no I/O of its own (but for reading its thread id once, at start). Listener egress
 * packets of all its stations gather in one batch (egress-batch.ts), posted at the end of
 * each batch of ingest packets and each tick: one message per flush, never one per packet.
 * The mixes of traces with listeners (mixer.ts) run here too, one per (trace, tap), fed by
 * a sink on that tap of each live station of the trace here; their packets share the batch.
 */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { LatencyHistogram } from './latency-histogram.ts';
import { EgressBatchWriter } from './egress-batch.ts';
import { METER_FIELDS, METER_OFFSET, type FromWorker, type StationSpec, type ToWorker, type WorkerPriority } from './messages.ts';
import { Mixer } from './mixer.ts';
import { readPacketBatch } from './packet-batch.ts';
import { toWire } from './sample-chunks.ts';
import { SegmentBuffers } from './segment-buffers.ts';
import { Station } from './station.ts';

/** The worker's one timer: the stations' clocks, finalization, meters, spectra, stats. */
const TICK_MS = 10;
const STATS_INTERVAL_MS = 1000;
const meterIntervalMs: number = (workerData as { meterIntervalMs?: number }).meterIntervalMs ?? 50;
const spectrumIntervalMs: number = (workerData as { spectrumIntervalMs?: number }).spectrumIntervalMs ?? 200;

const port = parentPort;
if (port === null) throw new Error('media worker must run in a worker thread');

const stations = new Map<number, Station>();
const latency = new LatencyHistogram();
const buffers = new SegmentBuffers({
  made: (id, buffer, chunkSamples) => send({ type: 'slab', id, buffer, chunkSamples }),
  freed: (id) => send({ type: 'slab_freed', id }),
});
const now = (): number => performance.timeOrigin + performance.now();
/** Listener egress packets of every station and mix here, until the next flush. */
const egress = new EgressBatchWriter();
/** The mixes of traces with listeners, by trace: PRE and POST. */
const mixes = new Map<string, [Mixer | null, Mixer | null]>();

function send(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(msg, transfer ?? []);
}

function addStation(spec: StationSpec): void {
  if (stations.size === 0) startTicking();
  const id = spec.id;
  const station = new Station(spec, {
    bucket: (record) => send({ type: 'bucket', record: { ...record, pre: toWire(record.pre, buffers), post: toWire(record.post, buffers) } }),
    status: (state, droppedFrames, queueDepth) => send({ type: 'status', id, state, droppedFrames, queueDepth }),
    decodeError: (code, message) => send({ type: 'decode_error', id, code, message }),
  }, latency, buffers, egress);
  stations.set(id, station);
  // A station of a trace with a mix joins it; a recording never does.
  const mix = station.live ? mixes.get(spec.traceId) : undefined;
  mix?.[0]?.join(station);
  mix?.[1]?.join(station);
}

/** A station ends (its last frame went through): it leaves its trace's mixes. */
function endStation(s: Station, nowMs: number, flush: boolean): void {
  if (flush) s.flush(nowMs);
  else s.end(nowMs);
  const mix = mixes.get(s.spec.traceId);
  mix?.[0]?.leave(s.id);
  mix?.[1]?.leave(s.id);
}

/**
 * Starts, retunes or stops a trace's mix on a tap. A new generation is a fresh mixer (the
 * handle restarted the tap); the live stations of the trace here join it at once.
 */
function setMixEgress(msg: Extract<ToWorker, { type: 'mix_egress' }>): void {
  const pair = mixes.get(msg.traceId) ?? [null, null];
  const running = pair[msg.tap];
  if (running !== null && msg.options !== null && running.id === msg.mixId && running.generation === msg.generation) {
    running.configure(msg.options);
    return;
  }
  running?.close();
  pair[msg.tap] = null;
  if (msg.options !== null) {
    try {
      const mixer = new Mixer(msg.mixId, msg.tap, msg.generation, msg.options, egress);
      for (const s of stations.values()) if (s.live && !s.ended && s.spec.traceId === msg.traceId) mixer.join(s);
      pair[msg.tap] = mixer;
    } catch {
      // As for a station's egress: libopus out of wasm memory leaves the mix silent rather
      // than taking the worker and every station on it down.
    }
  }
  if (pair[0] === null && pair[1] === null) mixes.delete(msg.traceId);
  else mixes.set(msg.traceId, pair);
}

/** Posts the egress packets gathered since the last flush, if any (transferred, not copied). */
function flushEgress(): void {
  if (egress.count === 0) return;
  const { buffer, bytes, count } = egress.take();
  send({ type: 'egress', buffer, bytes, count }, [buffer]);
}

function closeFinished(): void {
  // A station's last packets reach the control plane before the station's `closed`.
  flushEgress();
  for (const [id, s] of stations) {
    if (s.finished) {
      s.close();
      stations.delete(id);
      send({ type: 'closed', id, counters: s.counters() });
    }
  }
  if (stations.size === 0) stopTicking();
}

/** Stations that got packets in the current batch (reused, so a batch allocates no set). */
const touched: Station[] = [];

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'packets': {
      const t = now();
      for (const p of readPacketBatch(msg.buffer, msg.bytes)) {
        const s = stations.get(p.stationId);
        if (s === undefined) continue;
        s.enqueue(p, t);
        if (!s.touched) {
          s.touched = true;
          touched.push(s);
        }
      }
      for (const s of touched) {
        s.touched = false;
        s.pump(t);
      }
      touched.length = 0;
      flushEgress();
      break;
    }
    case 'add':
      addStation(msg.spec);
      break;
    case 'end': {
      const s = stations.get(msg.id);
      if (s !== undefined) endStation(s, now(), false);
      // A recording has finalized everything at its end: it leaves at once.
      closeFinished();
      break;
    }
    case 'sync':
      // Messages are handled in order, and a recorded station processes packets as they come.
      send({ type: 'synced', reqId: msg.reqId, known: stations.has(msg.id) });
      break;
    case 'schedule': {
      const s = stations.get(msg.id);
      const refusal = s === undefined ? 'unknown_station' : s.schedule(msg.applyAtBucketTs, msg.knobs, msg.configVersion, msg.eventId);
      if (refusal === null) send({ type: 'scheduled', reqId: msg.reqId, ok: true });
      else send({ type: 'scheduled', reqId: msg.reqId, ok: false, refusal, currentBucketTs: s?.currentBucketTs() ?? null });
      break;
    }
    case 'egress': {
      const s = stations.get(msg.id);
      if (s === undefined) break;
      try {
        s.setEgress(msg.tap, msg.options);
      } catch {
        // The handle checked the options with the same function. What is left (libopus out
        // of wasm memory) leaves the tap without listeners' audio, rather than taking the
        // worker and every station on it down.
      }
      break;
    }
    case 'mix_egress':
      setMixEgress(msg);
      break;
    case 'recycle':
      for (const slot of msg.slots) buffers.releaseSlot(slot);
      // The last buckets of a worker that has no station left: nothing to keep them for.
      if (stations.size === 0) buffers.trim(Date.now(), true);
      break;
    case 'flush': {
      const t = now();
      for (const s of stations.values()) endStation(s, t, true);
      closeFinished();
      send({ type: 'flushed', reqId: msg.reqId });
      break;
    }
  }
});

// One timer, running only while the worker has stations: an idle worker does not wake up.
let timer: NodeJS.Timeout | null = null;
let ticks = 0;

function startTicking(): void {
  if (timer !== null) return;
  timer = setInterval(tick, TICK_MS);
}

function stopTicking(): void {
  if (timer === null) return;
  clearInterval(timer);
  timer = null;
  // The last word on the stations that left, and the chunks they used go back.
  sendStats();
  buffers.trim(Date.now(), true);
}

const every = (ms: number): number => Math.max(1, Math.round(ms / TICK_MS));

function tick(): void {
  const t = now();
  for (const s of stations.values()) s.tick(t);
  // Slots held for stations that all stopped sending go once nothing has arrived for a while.
  for (const pair of mixes.values()) {
    pair[0]?.tick(t);
    pair[1]?.tick(t);
  }
  flushEgress();
  ticks++;
  computeSpectra();
  if (ticks % every(meterIntervalMs) === 0) {
    sendMeters();
    sendSpectra();
  }
  if (ticks % every(STATS_INTERVAL_MS) === 0) {
    buffers.trim(Date.now());
    sendStats();
  }
  closeFinished();
}

function sendStats(): void {
  const bins = latency.bins.slice();
  send(
    {
      type: 'stats',
      stations: [...stations.values()].map((s) => s.stats()),
      latencyBins: bins,
      latencyCount: latency.count,
      latencyMaxMs: latency.maxMs,
    },
    [bins.buffer],
  );
  latency.reset();
}

// Recordings (uploads) are not live: they have no place in telemetry.
const liveStations = (): Station[] => [...stations.values()].filter((s) => s.live);

/**
 * Telemetry (seed 003): every interval, each station's meters over that interval go out in
 * one message; the control plane keeps only the latest. Nothing here waits for a consumer.
 */
function sendMeters(): void {
  const live = liveStations();
  if (live.length === 0) return;
  const values = new Float64Array(live.length * METER_FIELDS);
  let o = 0;
  for (const s of live) {
    s.meterInterval.publish();
    values[o + METER_OFFSET.id] = s.id;
    values.set(s.meterInterval.published, o + METER_OFFSET.pre);
    values[o + METER_OFFSET.queueDepth] = s.queueDepth;
    values[o + METER_OFFSET.droppedFrames] = s.framesDropped;
    values[o + METER_OFFSET.decodeErrors] = s.decodeErrors;
    values[o + METER_OFFSET.configVersion] = s.currentConfigVersion;
    s.writeQos(values, o + METER_OFFSET.qos);
    o += METER_FIELDS;
  }
  send({ type: 'meters', ts: Date.now(), values }, [values.buffer]);
}

/**
 * Spectra (seed 003 WS-3) at a fixed rate, whether anyone watches or not. Each station's
 * spectra are computed once per interval, but the stations are spread over the interval's
 * ticks (one FFT burst for every station at once would hold up the audio behind it), and
 * what was computed goes out with the meters.
 */
let spectrumCursor = 0;
const pendingSpectra: Float32Array[] = [];

function computeSpectra(): void {
  const all = liveStations();
  if (all.length === 0) return;
  const perTick = Math.ceil(all.length / every(spectrumIntervalMs));
  const n = Math.min(perTick, all.length);
  let size = 0;
  for (let i = 0; i < n; i++) size += 2 * (3 + all[(spectrumCursor + i) % all.length].spectra[0].db.length);
  const values = new Float32Array(size);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const s = all[(spectrumCursor + i) % all.length];
    for (let tap = 0; tap < 2; tap++) {
      const sp = s.spectra[tap];
      sp.compute();
      values[o] = s.id;
      values[o + 1] = tap;
      values[o + 2] = sp.db.length;
      values.set(sp.db, o + 3);
      o += 3 + sp.db.length;
    }
  }
  spectrumCursor = (spectrumCursor + n) % all.length;
  pendingSpectra.push(values);
}

function sendSpectra(): void {
  if (pendingSpectra.length === 0) return;
  let size = 0;
  for (const v of pendingSpectra) size += v.length;
  const values = new Float32Array(size);
  let o = 0;
  for (const v of pendingSpectra) {
    values.set(v, o);
    o += v.length;
  }
  pendingSpectra.length = 0;
  send({ type: 'spectra', values }, [values.buffer]);
}

/**
 * Asks for the configured priority for this thread alone: on Linux a thread has its own
 * nice value (setpriority on the calling thread's id). Elsewhere it would apply to the whole
 * process, so it is not asked for.
 */
function raisePriority(nice: number): WorkerPriority {
  if (nice === 0) return { nice, applied: false, reason: 'not asked for (TAPWIRE_MEDIA_NICE=0)' };
  if (process.platform !== 'linux') return { nice, applied: false, reason: `a thread's own priority is set on Linux only, not on ${process.platform}` };
  let tid: number | undefined;
  try {
    tid = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ', 1)[0]);
  } catch {
    tid = undefined; // no /proc: the priority is still asked for, the id is only reported
  }
  try {
    setPriority(0, nice);
    return { nice, applied: true, tid };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { nice, applied: false, reason: `${code}: raising a priority needs CAP_SYS_NICE (root, or a container granted it)`, tid };
  }
}

send({ type: 'ready', priority: raisePriority((workerData as { nice?: number }).nice ?? 0) });
