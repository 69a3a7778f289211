import { describe, expect, it } from 'vitest';
import { parseListenClientMessage, parseListenQuery } from './listen-messages.ts';

describe('parseListenQuery', () => {
  it('takes stream_id, and tap, mode and burst with their defaults (POST, mse, default)', () => {
    expect(parseListenQuery({ stream_id: 'abc' })).toEqual({ ok: true, value: { streamId: 'abc', tap: 'POST', mode: 'mse', burst: 'default' } });
    expect(parseListenQuery({ stream_id: 'abc', tap: 'PRE', mode: 'packets', burst: 'none', token: 'ignored' })).toEqual({ ok: true, value: { streamId: 'abc', tap: 'PRE', mode: 'packets', burst: 'none' } });
  });

  it.each([
    [{}, /stream_id is missing/],
    [{ stream_id: '' }, /stream_id is missing/],
    [{ stream_id: ['a', 'b'] }, /stream_id is missing/],
    [{ stream_id: 'a', tap: 'post' }, /^tap must be "POST" or "PRE" \(once\), got "post"$/],
    [{ stream_id: 'a', tap: ['PRE', 'POST'] }, /^tap must be "POST" or "PRE" \(once\), got \["PRE","POST"\]$/],
    [{ stream_id: 'a', mode: 'hls' }, /^mode must be "mse" or "packets" \(once\), got "hls"$/],
  ])('refuses %j with bad_query: %s', (query, message) => {
    const r = parseListenQuery(query);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('bad_query');
      expect(r.message).toMatch(message);
    }
  });

  it('refuses what is not an object as a missing stream_id', () => {
    expect(parseListenQuery(undefined)).toMatchObject({ ok: false, code: 'bad_query' });
  });
});

describe('parseListenClientMessage', () => {
  it('takes pause_request, resume_request and client_metrics', () => {
    expect(parseListenClientMessage('{"type":"pause_request"}')).toEqual({ ok: true, value: { type: 'pause_request' } });
    expect(parseListenClientMessage('{"type":"resume_request"}')).toEqual({ ok: true, value: { type: 'resume_request' } });
    const m = { type: 'client_metrics', buffer_s: 2.5, latency_s: 3.1, stalls: 2, time_to_first_audio_ms: 840, decode_errors: 0, concealed_frames: 4, jitter_ms: 12, target_delay_ms: 60 };
    expect(parseListenClientMessage(JSON.stringify(m))).toEqual({ ok: true, value: m });
    expect(parseListenClientMessage('{"type":"client_metrics"}')).toEqual({ ok: true, value: { type: 'client_metrics' } });
  });

  it.each([
    ['not json', 'bad_json', /JSON objects/],
    ['[1,2]', 'bad_json', /JSON objects/],
    ['null', 'bad_json', /JSON objects/],
    ['{"type":"stop"}', 'unknown_type', /unknown message type "stop"; a listener sends "pause_request", "resume_request" or "client_metrics"/],
    ['{}', 'unknown_type', /unknown message type null/],
    ['{"type":"client_metrics","stalls":-1}', 'bad_message', /^client_metrics\.stalls must be >= 0$/],
    ['{"type":"client_metrics","stalls":1.5}', 'bad_message', /^client_metrics\.stalls must be integer$/],
    ['{"type":"client_metrics","buffer_s":"2"}', 'bad_message', /^client_metrics\.buffer_s must be number$/],
    ['{"type":"client_metrics","latency_s":4000}', 'bad_message', /^client_metrics\.latency_s must be <= 3600$/],
  ])('%s is refused as %s', (text, code, message) => {
    const r = parseListenClientMessage(text);
    expect(r).toMatchObject({ ok: false, code });
    if (!r.ok) expect(r.message).toMatch(message);
  });
});
