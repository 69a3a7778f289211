/**
 * Listen links, both ways: what a listen page's URL asks for (`/listen/<stream_id>` with
 * `?mode=lowlatency` or `?mode=webrtc`, `?tap=PRE`, `?buffer=2`), the relay socket URL that
 * asks the relay for it (`/ws/listen?stream_id=..&tap=..&mode=..`, protocol/listen.ts) or its
 * WHEP endpoint (`/whep/<stream_id>`), and the stream id inside whatever a person pastes (a
 * whole link or the bare id). Plain functions over URLs, no DOM.
 */
import { LISTEN_PATH, type ListenBurst, type ListenMode, type ListenTap } from '../../../protocol/listen.ts';

/** A stream id as the relay makes them (128 random bits, base64url: 22 characters), with room for other lengths. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

/** The MSE player's initial buffer when the page does not say, s (seed 002 §9 asks for 2-5 s; live listening wants less). */
export const DEFAULT_BUFFER_S = 1;
/** The range `?buffer=` may ask for, s. */
export const MIN_BUFFER_S = 0.3;
export const MAX_BUFFER_S = 30;

/** The page's players: the socket's two modes, and WebRTC (WHEP, the browser's own jitter buffer). */
export type ListenPageMode = ListenMode | 'webrtc';

export interface ListenOptions {
  streamId: string;
  tap: ListenTap;
  /** mse: WebM through Media Source Extensions; packets: the low-latency player; webrtc: WHEP. */
  mode: ListenPageMode;
  /** The MSE player's initial buffer and latency target, s. */
  bufferS: number;
  /** Low-latency mode: force a decoder (`?decoder=wasm` to try the WebAssembly one where WebCodecs exists). */
  decoder?: 'webcodecs' | 'wasm';
}

export type ParsedListenPage = { ok: true; options: ListenOptions; warnings: string[] } | { ok: false; message: string };

/**
 * Reads a listen page's stream id (the route parameter) and query. Unknown values fall back
 * to the defaults with a warning, so a hand-edited link still plays.
 */
export function parseListenPage(streamId: string, query: URLSearchParams): ParsedListenPage {
  if (!STREAM_ID_PATTERN.test(streamId)) {
    return { ok: false, message: `"${streamId}" is not a stream id: a stream id is 8-128 letters, digits, "-" or "_", as the capture page shows it` };
  }
  const warnings: string[] = [];

  let mode: ListenPageMode = 'mse';
  const m = query.get('mode')?.toLowerCase();
  if (m === 'lowlatency' || m === 'low-latency' || m === 'packets') mode = 'packets';
  else if (m === 'webrtc' || m === 'whep') mode = 'webrtc';
  else if (m !== undefined && m !== 'mse' && m !== '') warnings.push(`mode "${m}" is unknown: using mse (the others are lowlatency and webrtc)`);

  let tap: ListenTap = 'POST';
  const t = query.get('tap')?.toUpperCase();
  if (t === 'PRE' || t === 'POST') tap = t;
  else if (t !== undefined && t !== '') warnings.push(`tap "${t}" is unknown: using POST (the other is PRE)`);
  // The relay's WHEP egress carries what listeners hear: the POST tap.
  if (mode === 'webrtc' && tap === 'PRE') {
    tap = 'POST';
    warnings.push('WebRTC plays the POST tap only: using POST (the other players can play PRE)');
  }

  let bufferS = DEFAULT_BUFFER_S;
  const b = query.get('buffer');
  if (b !== null && b !== '') {
    const v = Number(b);
    if (Number.isFinite(v) && v >= MIN_BUFFER_S && v <= MAX_BUFFER_S) bufferS = v;
    else warnings.push(`buffer "${b}" is not a number of seconds in ${MIN_BUFFER_S}-${MAX_BUFFER_S}: using ${DEFAULT_BUFFER_S} s`);
  }
  const options: ListenOptions = { streamId, tap, mode, bufferS };
  const d = query.get('decoder');
  if (d === 'wasm' || d === 'webcodecs') options.decoder = d;
  else if (d !== null && d !== '') warnings.push(`decoder "${d}" is unknown: choosing one (the choices are webcodecs and wasm)`);
  return { ok: true, options, warnings };
}

/** The page's own path and query for these options (defaults left out), e.g. `/listen/abc?mode=lowlatency`. */
export function listenPageHref(o: ListenOptions): string {
  const q = new URLSearchParams();
  if (o.mode === 'packets') q.set('mode', 'lowlatency');
  else if (o.mode === 'webrtc') q.set('mode', 'webrtc');
  if (o.tap !== 'POST') q.set('tap', o.tap);
  if (o.bufferS !== DEFAULT_BUFFER_S) q.set('buffer', String(o.bufferS));
  if (o.decoder !== undefined && o.mode === 'packets') q.set('decoder', o.decoder);
  const s = q.toString();
  return `/listen/${encodeURIComponent(o.streamId)}${s ? `?${s}` : ''}`;
}

/** The relay's listen socket for these options, same origin as the page (ws: or wss: after its protocol). */
export function listenSocketUrl(page: URL, o: Pick<ListenOptions, 'streamId' | 'tap'> & { mode: ListenMode }, burst: ListenBurst = 'default'): string {
  const url = new URL(LISTEN_PATH, page);
  url.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  url.searchParams.set('stream_id', o.streamId);
  url.searchParams.set('tap', o.tap);
  url.searchParams.set('mode', o.mode);
  if (burst !== 'default') url.searchParams.set('burst', burst);
  return url.href;
}

/** The relay's WHEP endpoint for a stream, same origin as the page. */
export function whepUrl(page: URL, streamId: string): string {
  return new URL(`/whep/${encodeURIComponent(streamId)}`, page).href;
}

/**
 * The stream id in what someone pasted: a listen link (absolute or a path, with or without
 * a query) or the bare id. Null when there is none. The link's query is kept, so a pasted
 * low-latency link stays one.
 */
export function parseListenInput(text: string): { streamId: string; search: string } | null {
  const s = text.trim();
  if (s === '') return null;
  if (STREAM_ID_PATTERN.test(s)) return { streamId: s, search: '' };
  let url: URL;
  try {
    url = new URL(s, 'http://paste.invalid');
  } catch {
    return null;
  }
  const m = /\/listen\/([^/?#]+)\/?$/.exec(url.pathname);
  if (m === null) {
    // A socket URL pasted from a log: /ws/listen?stream_id=...
    const id = url.pathname.endsWith(LISTEN_PATH) ? url.searchParams.get('stream_id') : null;
    return id !== null && STREAM_ID_PATTERN.test(id) ? { streamId: id, search: '' } : null;
  }
  let id: string;
  try {
    id = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  return STREAM_ID_PATTERN.test(id) ? { streamId: id, search: url.search } : null;
}
