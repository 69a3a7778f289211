import { describe, expect, it } from 'vitest';
import { buildClientMetrics } from './client-metrics.ts';
import type { PlayerFigures, PlayoutFigures } from './player.ts';
import { parseServerMessage } from './server-messages.ts';

const figures: PlayerFigures = {
  state: 'playing',
  currentTime: 12.3,
  bufferedAheadS: 0.98765,
  latencyS: 1.23456,
  stalls: 2,
  timeToFirstAudioMs: 612.7,
  firstAudioAtMs: 900,
  decodeErrors: 0,
  playbackRate: 1,
  playout: null,
};

const playout: PlayoutFigures = {
  decoder: 'webcodecs',
  path: 'shared ring',
  bufferMs: 41,
  targetMs: 23.456,
  jitterMs: 1.789,
  concealedFrames: 4,
  lateFrames: 1,
  skippedFrames: 0,
  overflowFrames: 0,
  receivedFrames: 100,
  playedFrames: 97,
  onsets: 0,
  lastOnsetWallMs: null,
};

describe('buildClientMetrics', () => {
  it('reports the MSE player without the low-latency fields', () => {
    expect(buildClientMetrics(figures)).toEqual({ type: 'client_metrics', buffer_s: 0.988, latency_s: 1.235, stalls: 2, time_to_first_audio_ms: 613, decode_errors: 0 });
  });

  it('adds concealment, jitter and target delay in low-latency mode', () => {
    expect(buildClientMetrics({ ...figures, playout })).toMatchObject({ concealed_frames: 4, jitter_ms: 1.79, target_delay_ms: 23.46 });
  });

  it('keeps every value inside the schema (no negative latency, no unknown first audio)', () => {
    const m = buildClientMetrics({ ...figures, latencyS: -0.2, bufferedAheadS: -1, timeToFirstAudioMs: null });
    expect(m.latency_s).toBe(0);
    expect(m.buffer_s).toBe(0);
    expect('time_to_first_audio_ms' in m).toBe(false);
    expect('latency_s' in buildClientMetrics({ ...figures, latencyS: null })).toBe(false);
  });
});

describe('parseServerMessage', () => {
  it('reads stream_metadata, stream_end and error', () => {
    const meta = { type: 'stream_metadata', codec: 'opus', container: 'webm', sampleRate: 48000, channels: 1, trace_id: 't', station_key: 's', label: 'field-mic', tap: 'POST', mode: 'mse', bitrate: 32000, frame_ms: 20 };
    expect(parseServerMessage(JSON.stringify(meta))).toEqual({ ok: true, message: meta });
    expect(parseServerMessage('{"type":"stream_end","reason":"station stopped"}')).toEqual({ ok: true, message: { type: 'stream_end', reason: 'station stopped' } });
    expect(parseServerMessage('{"type":"error","code":"x","message":"boom"}')).toEqual({ ok: true, message: { type: 'error', code: 'x', message: 'boom' } });
  });

  it('refuses what is not a listen message, saying why', () => {
    expect(parseServerMessage('nope')).toMatchObject({ ok: false });
    expect(parseServerMessage('[1]')).toMatchObject({ ok: false });
    expect(parseServerMessage('{"type":"hello"}')).toEqual({ ok: false, problem: 'a message of unknown type "hello"' });
    expect(parseServerMessage('{"type":"stream_metadata","mode":"hls","tap":"POST"}')).toMatchObject({ ok: false });
  });
});
