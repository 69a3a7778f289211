/**
 * Bearer token scopes (seed 000 §9, plus what Tapwire adds): what a token may do.
 */
export const SCOPES = ['read:snapshots', 'read:audio', 'write:knobs', 'ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function parseScopes(text: string): Scope[] {
  const out: Scope[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SCOPES as readonly string[]).includes(raw)) throw new TypeError(`unknown scope "${raw}"; scopes are ${SCOPES.join(', ')}`);
    if (!out.includes(raw as Scope)) out.push(raw as Scope);
  }
  if (out.length === 0) throw new TypeError(`name at least one scope: ${SCOPES.join(', ')}`);
  return out;
}
