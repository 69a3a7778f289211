/**
 * The edge of the listen socket: its query and the text messages a listener sends, checked
 * against protocol/listen.ts's schemas (compiled once with Ajv, as the routes' schemas are)
 * and turned into typed values, or into an error code of LISTEN_ERROR_CLOSE with a message
 * that says what was wrong and what would be right. Nothing past this file sees raw input.
 */
import { Ajv } from 'ajv';
import {
  ClientMetricsMessage,
  LISTEN_BURSTS,
  LISTEN_MODES,
  LISTEN_TAPS,
  type ListenBurst,
  type ListenClientMessage,
  type ListenErrorCode,
  type ListenMode,
  type ListenTap,
} from '../../../protocol/listen.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; code: ListenErrorCode; message: string };

export interface ListenRequest {
  streamId: string;
  tap: ListenTap;
  mode: ListenMode;
  /** mode=mse: the join burst asked for: 'none' after a reconnection, when the player still has audio. */
  burst: ListenBurst;
}

const ajv = new Ajv({ allErrors: false, coerceTypes: false, allowUnionTypes: true });
const checkMetrics = ajv.compile<ClientMetricsMessage>(ClientMetricsMessage);

const fail = (code: ListenErrorCode, message: string): { ok: false; code: ListenErrorCode; message: string } => ({ ok: false, code, message });
const quoted = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(' or ');

/**
 * `?stream_id=...&tap=...&mode=...&burst=...` as the router parsed it (a repeated parameter
 * is an array). `tap` defaults to POST, `mode` to mse and `burst` to default. Whether the stream exists is not this
 * file's business: any non-empty id passes here.
 */
export function parseListenQuery(query: unknown): Parsed<ListenRequest> {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  const { stream_id: streamId, tap = 'POST', mode = 'mse', burst = 'default' } = q;
  if (typeof streamId !== 'string' || streamId === '') {
    return fail('bad_query', 'stream_id is missing: open /ws/listen?stream_id=<the id the capture page shows>');
  }
  if (typeof tap !== 'string' || !(LISTEN_TAPS as readonly string[]).includes(tap)) {
    return fail('bad_query', `tap must be ${quoted(LISTEN_TAPS)} (once), got ${JSON.stringify(tap)}`);
  }
  if (typeof mode !== 'string' || !(LISTEN_MODES as readonly string[]).includes(mode)) {
    return fail('bad_query', `mode must be ${quoted(LISTEN_MODES)} (once), got ${JSON.stringify(mode)}`);
  }
  if (typeof burst !== 'string' || !(LISTEN_BURSTS as readonly string[]).includes(burst)) {
    return fail('bad_query', `burst must be ${quoted(LISTEN_BURSTS)} (once), got ${JSON.stringify(burst)}`);
  }
  return { ok: true, value: { streamId, tap: tap as ListenTap, mode: mode as ListenMode, burst: burst as ListenBurst } };
}

/** One text message from a listener (its size is checked before, against MAX_LISTEN_CLIENT_MESSAGE_BYTES). */
export function parseListenClientMessage(text: string): Parsed<ListenClientMessage> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('bad_json', 'messages must be JSON objects, such as {"type":"pause_request"}');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('bad_json', 'messages must be JSON objects, such as {"type":"pause_request"}');
  }
  const msg = raw as Record<string, unknown>;
  switch (msg.type) {
    case 'pause_request':
      return { ok: true, value: { type: 'pause_request' } };
    case 'resume_request':
      return { ok: true, value: { type: 'resume_request' } };
    case 'client_metrics':
      if (checkMetrics(msg)) return { ok: true, value: msg };
      return fail('bad_message', `client_metrics${metricsError()}`);
    default:
      return fail('unknown_type', `unknown message type ${JSON.stringify(msg.type ?? null)}; a listener sends "pause_request", "resume_request" or "client_metrics"`);
  }
}

/** Ajv's first complaint about the last client_metrics, as " .field must be ...". */
function metricsError(): string {
  const e = checkMetrics.errors?.[0];
  if (e === undefined) return ' is not valid';
  const where = e.instancePath === '' ? '' : e.instancePath.replace(/^\//, '.').replace(/\//g, '.');
  return `${where} ${e.message ?? 'is not valid'}`;
}
