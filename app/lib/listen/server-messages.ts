/**
 * The listen socket's text messages, parsed at the edge (protocol/listen.ts
 * ListenServerMessage): only typed values travel inward. The checks are the fields the
 * player relies on; anything else is kept as sent.
 */
import type { ListenServerMessage } from '../../../protocol/listen.ts';

export type ParsedServerMessage = { ok: true; message: ListenServerMessage } | { ok: false; problem: string };

export function parseServerMessage(text: string): ParsedServerMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, problem: `a text message that is not JSON: ${text.slice(0, 80)}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, problem: 'a text message that is not a JSON object' };
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'stream_metadata':
      if (m.mode !== 'mse' && m.mode !== 'packets') return { ok: false, problem: `stream_metadata with mode ${JSON.stringify(m.mode)}` };
      if (m.tap !== 'PRE' && m.tap !== 'POST') return { ok: false, problem: `stream_metadata with tap ${JSON.stringify(m.tap)}` };
      if (m.label !== null && m.label !== undefined && typeof m.label !== 'string') return { ok: false, problem: 'stream_metadata with a label that is not a string' };
      return { ok: true, message: m as ListenServerMessage };
    case 'stream_end':
      return { ok: true, message: { type: 'stream_end', ...(typeof m.reason === 'string' ? { reason: m.reason } : {}) } };
    case 'error':
      return { ok: true, message: { type: 'error', message: typeof m.message === 'string' ? m.message : 'unknown error', ...(typeof m.code === 'string' ? { code: m.code } : {}) } };
    default:
      return { ok: false, problem: `a message of unknown type ${JSON.stringify(m.type)}` };
  }
}
