import { describe, expect, it } from 'vitest';
import { listenPageHref, listenSocketUrl, parseListenInput, parseListenPage, whepUrl, type ListenOptions } from './listen-link.ts';

const ID = 'q3VbYl0xk7_-Ab2cD4eF5g';
const q = (s: string): URLSearchParams => new URLSearchParams(s);

describe('parseListenPage', () => {
  it('defaults to MSE, the POST tap and a 1 s buffer', () => {
    expect(parseListenPage(ID, q(''))).toEqual({ ok: true, options: { streamId: ID, tap: 'POST', mode: 'mse', bufferS: 1 }, warnings: [] });
  });

  it('reads ?mode=lowlatency (or packets), ?tap=PRE and ?buffer=', () => {
    const r = parseListenPage(ID, q('mode=lowlatency&tap=pre&buffer=2.5'));
    expect(r).toEqual({ ok: true, options: { streamId: ID, tap: 'PRE', mode: 'packets', bufferS: 2.5 }, warnings: [] });
    const p = parseListenPage(ID, q('mode=packets&decoder=wasm'));
    expect(p.ok && p.options).toEqual({ streamId: ID, tap: 'POST', mode: 'packets', bufferS: 1, decoder: 'wasm' });
    expect(listenPageHref({ streamId: ID, tap: 'POST', mode: 'packets', bufferS: 1, decoder: 'wasm' })).toBe(`/listen/${ID}?mode=lowlatency&decoder=wasm`);
  });

  it('falls back to the defaults with a warning for values it does not know', () => {
    const r = parseListenPage(ID, q('mode=fast&tap=MID&buffer=-1&decoder=ffmpeg'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.options).toEqual({ streamId: ID, tap: 'POST', mode: 'mse', bufferS: 1 });
    expect(r.warnings).toHaveLength(4);
    expect(r.warnings[2]).toContain('0.3-30');
  });

  it('refuses something that cannot be a stream id, saying what one looks like', () => {
    const r = parseListenPage('no way', q(''));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain('letters, digits');
  });
});

describe('listenPageHref / listenSocketUrl', () => {
  const o: ListenOptions & { mode: 'packets' | 'mse' } = { streamId: ID, tap: 'PRE', mode: 'packets', bufferS: 1 };

  it('writes the page link with only what differs from the defaults, and reads back the same options', () => {
    expect(listenPageHref({ ...o, tap: 'POST', mode: 'mse' })).toBe(`/listen/${ID}`);
    const href = listenPageHref({ ...o, bufferS: 3 });
    expect(href).toBe(`/listen/${ID}?mode=lowlatency&tap=PRE&buffer=3`);
    const url = new URL(href, 'http://x');
    const back = parseListenPage(decodeURIComponent(url.pathname.split('/')[2]), url.searchParams);
    expect(back.ok && back.options).toEqual({ ...o, bufferS: 3 });
  });

  it('asks the same origin over ws: or wss:, after the page protocol', () => {
    expect(listenSocketUrl(new URL(`http://127.0.0.1:8080/listen/${ID}?mode=lowlatency#x`), o)).toBe(`ws://127.0.0.1:8080/ws/listen?stream_id=${ID}&tap=PRE&mode=packets`);
    expect(listenSocketUrl(new URL('https://relay.example/listen/x'), { ...o, mode: 'mse', tap: 'POST' })).toBe(`wss://relay.example/ws/listen?stream_id=${ID}&tap=POST&mode=mse`);
  });

  it('asks for no join burst only when told to (a reconnecting MSE player)', () => {
    const page = new URL(`http://127.0.0.1:8080/listen/${ID}`);
    const mse = { ...o, mode: 'mse' as const, tap: 'POST' as const };
    expect(listenSocketUrl(page, mse, 'none')).toBe(`ws://127.0.0.1:8080/ws/listen?stream_id=${ID}&tap=POST&mode=mse&burst=none`);
    expect(listenSocketUrl(page, mse, 'default')).toBe(listenSocketUrl(page, mse));
  });
});

describe('parseListenInput', () => {
  it('takes a bare id, a whole link (keeping its query), a path, or a socket URL', () => {
    expect(parseListenInput(`  ${ID} `)).toEqual({ streamId: ID, search: '' });
    expect(parseListenInput(`https://relay.example/listen/${ID}?mode=lowlatency`)).toEqual({ streamId: ID, search: '?mode=lowlatency' });
    expect(parseListenInput(`/listen/${ID}/`)).toEqual({ streamId: ID, search: '' });
    expect(parseListenInput(`ws://127.0.0.1:8080/ws/listen?stream_id=${ID}&tap=POST`)).toEqual({ streamId: ID, search: '' });
  });

  it('finds nothing in text that holds no stream id', () => {
    expect(parseListenInput('')).toBeNull();
    expect(parseListenInput('hello there')).toBeNull();
    expect(parseListenInput('https://relay.example/capture')).toBeNull();
    expect(parseListenInput('https://relay.example/listen/a%ZZ')).toBeNull();
  });
});

describe('WebRTC listen links', () => {
  it('reads ?mode=webrtc, plays POST only there, and writes it back', () => {
    const r = parseListenPage(ID, q('mode=webrtc'));
    expect(r).toEqual({ ok: true, options: { streamId: ID, tap: 'POST', mode: 'webrtc', bufferS: 1 }, warnings: [] });
    const pre = parseListenPage(ID, q('mode=webrtc&tap=PRE'));
    expect(pre.ok && pre.options.tap).toBe('POST');
    expect(pre.ok && pre.warnings).toEqual(['WebRTC plays the POST tap only: using POST (the other players can play PRE)']);
    expect(listenPageHref({ streamId: ID, tap: 'POST', mode: 'webrtc', bufferS: 1 })).toBe(`/listen/${ID}?mode=webrtc`);
    expect(whepUrl(new URL('https://relay.example/listen/x?mode=webrtc'), ID)).toBe(`https://relay.example/whep/${ID}`);
  });
});
