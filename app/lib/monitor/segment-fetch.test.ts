import { describe, expect, it } from 'vitest';
import { fetchSegment, SegmentError, type FetchFn } from './segment-fetch.ts';

const refuse = (status: number, code: string, message: string): FetchFn => async () =>
  new Response(JSON.stringify({ success: false, error: { code, message } }), { status, headers: { 'content-type': 'application/json' } });

async function failure(fetchFn: FetchFn): Promise<SegmentError> {
  const e = await fetchSegment(fetchFn, '/api/audio/segment?x', 'POST').catch((err: unknown) => err);
  expect(e).toBeInstanceOf(SegmentError);
  return e as SegmentError;
}

describe('fetchSegment', () => {
  it('returns the WAV bytes of a 200', async () => {
    const bytes = new Uint8Array([82, 73, 70, 70]);
    const got = await fetchSegment(async () => new Response(bytes, { status: 200 }), '/s', 'PRE');
    expect([...new Uint8Array(got)]).toEqual([82, 73, 70, 70]);
  });

  it('says the token lacks read:audio on a 403', async () => {
    const e = await failure(refuse(403, 'forbidden', 'this token lacks the scope read:audio'));
    expect(e.code).toBe('forbidden');
    expect(e.tap).toBe('POST');
    expect(e.message).toContain('lacks read:audio');
  });

  it('says the audio is not kept any more when retention removed it', async () => {
    const e = await failure(refuse(404, 'audio_not_found', 'the audio of bucket ... was removed by retention'));
    expect(e.code).toBe('audio_gone');
    expect(e.message).toContain('not kept any more');
  });

  it('tells a missing bucket from removed audio, with the relay\'s words', async () => {
    const e = await failure(refuse(404, 'bucket_not_found', 'no complete bucket 2026-01-03T21:15:00.000Z'));
    expect(e.code).toBe('not_found');
    expect(e.message).toContain('no complete bucket 2026-01-03T21:15:00.000Z');
  });

  it('asks to sign in again on a 401', async () => {
    expect((await failure(refuse(401, 'unauthorized', 'no token'))).code).toBe('unauthorized');
  });

  it('names the status of anything else, with or without a JSON body', async () => {
    const e = await failure(async () => new Response('busy', { status: 503 }));
    expect(e.code).toBe('http');
    expect(e.message).toContain('HTTP 503');
    const net = await failure(async () => {
      throw new TypeError('Failed to fetch');
    });
    expect(net.code).toBe('http');
    expect(net.message).toContain('Failed to fetch');
  });

  it('lets an abort through as the abort it is', async () => {
    const ac = new AbortController();
    ac.abort();
    const fetchFn: FetchFn = async (_u, init) => {
      init?.signal?.throwIfAborted();
      return new Response('');
    };
    const e = await fetchSegment(fetchFn, '/s', 'PRE', ac.signal).catch((err: unknown) => err);
    expect(e).not.toBeInstanceOf(SegmentError);
    expect((e as Error).name).toBe('AbortError');
  });
});
