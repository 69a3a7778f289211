import { describe, expect, it } from 'vitest';
import { describeRefusal, isRetryable, readErrorBody } from './sdp-exchange.ts';

describe('WHIP/WHEP refusals', () => {
  it("reads the relay's error envelope, or plain text, or nothing", () => {
    expect(readErrorBody('{"success":false,"error":{"code":"forbidden","message":"this token lacks the ingest scope"}}', 'application/json; charset=utf-8')).toEqual({ code: 'forbidden', message: 'this token lacks the ingest scope' });
    expect(readErrorBody('no offer', 'text/plain')).toEqual({ code: null, message: 'no offer' });
    expect(readErrorBody('{broken', 'application/json')).toEqual({ code: null, message: '{broken' });
    expect(readErrorBody('  ', null)).toEqual({ code: null, message: null });
    expect(readErrorBody('x'.repeat(1000), 'text/plain').message).toHaveLength(300);
  });

  it('says what each status means and what would fix it', () => {
    expect(describeRefusal('whip', 401, null)).toMatch(/needs a sign-in token.*"ingest" scope/);
    expect(describeRefusal('whip', 403, 'token lacks ingest')).toMatch(/may not start WebRTC capture \(the relay said: token lacks ingest\): it needs the "ingest" scope/);
    expect(describeRefusal('whip', 503, 'at the session limit', '5')).toMatch(/cannot take another WebRTC capture session now.*at the session limit.*trying again in 5 s/);
    expect(describeRefusal('whip', 400, 'no Opus')).toMatch(/refused the WebRTC capture offer as malformed \(the relay said: no Opus\)/);
    expect(describeRefusal('whip', 400, 'trace_id is not a live trace', null, 'invalid_request')).toBe('the relay refused the WebRTC capture request (the relay said: trace_id is not a live trace)');
    expect(describeRefusal('whep', 404, null)).toMatch(/no live station with this stream id/);
    expect(describeRefusal('whip', 418, null)).toBe('the relay refused WebRTC capture with HTTP 418');
  });

  it('retries what may pass later and not what will not', () => {
    expect([400, 401, 403, 404, 415].map(isRetryable)).toEqual([false, false, false, false, false]);
    expect([429, 500, 503].map(isRetryable)).toEqual([true, true, true]);
  });
});
