/**
 * Bearer token scopes (seed 000 §9, plus what Tapwire adds): what a token may do. The list
 * is part of the wire contract (protocol/session.ts), so the app names the same scopes.
 */
import { SCOPES, type Scope } from '../../../protocol/session.ts';

export { grants, SCOPES, type Scope } from '../../../protocol/session.ts';

export function parseScopes(text: string): Scope[] {
  const out: Scope[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SCOPES as readonly string[]).includes(raw)) throw new TypeError(`unknown scope "${raw}"; scopes are ${SCOPES.join(', ')}`);
    if (!out.includes(raw as Scope)) out.push(raw as Scope);
  }
  if (out.length === 0) throw new TypeError(`name at least one scope: ${SCOPES.join(', ')}`);
  return out;
}
