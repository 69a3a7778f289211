/**
 * The knob panel's calls: the registry (`GET /api/optimizer/knobs`, asked once per page load
 * and shared by every station's panel) and an apply (`POST /api/optimizer/knobs/apply`,
 * seed 000 §5.4), whose refusal is returned with the relay's own message.
 */
import type { KnobSpec } from '$protocol/knobs';
import type { ApplyRequest, ApplyResponse, KnobsResponse } from '$protocol/optimizer-api';
import { session } from '$lib/session.svelte';

let registry: Promise<readonly KnobSpec[]> | null = null;

/** The relay's knob registry; a failed load is asked again on the next call. */
export function loadKnobRegistry(): Promise<readonly KnobSpec[]> {
  registry ??= (async () => {
    const res = await session.fetch('/api/optimizer/knobs', { headers: { accept: 'application/json' } });
    const body = (await res.json().catch(() => null)) as (KnobsResponse & { error?: { message?: string } }) | null;
    if (!res.ok || !Array.isArray(body?.knobs)) throw new Error(`the knob registry could not be read: ${res.status} ${body?.error?.message ?? ''}`.trim());
    return body.knobs;
  })();
  registry.catch(() => (registry = null));
  return registry;
}

export type ApplyOutcome = { ok: true; response: ApplyResponse } | { ok: false; status: number; code: string; message: string };

export async function applyKnobs(request: ApplyRequest): Promise<ApplyOutcome> {
  let res: Response;
  try {
    res = await session.fetch('/api/optimizer/knobs/apply', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
    });
  } catch {
    return { ok: false, status: 0, code: 'unreachable', message: 'the relay could not be reached; nothing was applied' };
  }
  const body = (await res.json().catch(() => null)) as (ApplyResponse & { error?: { code?: string; message?: string } }) | null;
  if (res.ok && body?.accepted === true) return { ok: true, response: body };
  return { ok: false, status: res.status, code: body?.error?.code ?? 'unknown', message: body?.error?.message ?? `HTTP ${res.status}` };
}
