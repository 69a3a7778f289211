/**
 * The signed-in session: the relay prints a sign-in link (`/?token=...`, read from its
 * admin-token file); opening it, or pasting a token into the sign-in form, stores the token
 * on this device (the link's token is removed from the address bar, so it is not bookmarked
 * or shared by accident). API calls then send it as a bearer token.
 *
 * The relay is asked who the token is (`GET /api/session`), which gives the session's state:
 *
 * - `signed-out`: no token on this device;
 * - `checking`: a token, not answered yet;
 * - `signed-in`: the relay accepts it; `info` has its scopes;
 * - `refused`: the relay answered 401 (a mistyped or revoked token);
 * - `unreachable`: the relay could not be asked; `info` is what it said last time, so the
 *   pages offer what they did until it answers again.
 */
import { grants, type Scope, type SessionResponse, type SessionToken } from '$protocol/session';
import { relayStatus } from './relay-status.svelte';

const STORAGE_KEY = 'tapwire.token';
/** What the relay last said of the stored token (no secret in it). */
const INFO_KEY = 'tapwire.session';

export type SessionState = 'signed-out' | 'checking' | 'signed-in' | 'refused' | 'unreachable';

class Session {
  token = $state<string | null>(null);
  state = $state<SessionState>('signed-out');
  /** The token as the relay described it (last known while unreachable); null when unknown. */
  info = $state.raw<SessionToken | null>(null);
  /** Why the last check failed, in words, when it did. */
  problem = $state<string | null>(null);

  #initialized = false;
  /** Bumped per check, so a late answer for an older token is ignored. */
  #generation = 0;

  /** Reads a `?token=` from the address (storing it) or the token stored before, then checks it. Safe to call twice. */
  init(): void {
    if (this.#initialized) return;
    this.#initialized = true;
    const url = new URL(window.location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      localStorage.setItem(STORAGE_KEY, fromUrl);
      localStorage.removeItem(INFO_KEY);
      url.searchParams.delete('token');
      history.replaceState(history.state, '', url.pathname + (url.search === '?' ? '' : url.search) + url.hash);
    }
    this.token = localStorage.getItem(STORAGE_KEY);
    this.info = this.token === null ? null : readInfo();
    // A relay back from an outage is asked again, if it could not be asked before.
    relayStatus.onRecovered(() => {
      if (this.state === 'unreachable') void this.check();
    });
    void this.check();
  }

  /** Signs in with a pasted token (surrounding spaces and a `Bearer ` prefix are dropped). */
  async signIn(text: string): Promise<void> {
    const token = text.trim().replace(/^Bearer\s+/i, '');
    if (token === '') return;
    localStorage.setItem(STORAGE_KEY, token);
    localStorage.removeItem(INFO_KEY);
    this.token = token;
    this.info = null;
    await this.check();
  }

  signOut(): void {
    this.#generation++;
    localStorage.removeItem(STORAGE_KEY);
    localStorage.removeItem(INFO_KEY);
    this.token = null;
    this.info = null;
    this.problem = null;
    this.state = 'signed-out';
  }

  /** Whether the token may do what `scope` names (as last known; false without one). */
  can(scope: Scope): boolean {
    return this.info !== null && this.state !== 'refused' && grants(this.info.scopes, scope);
  }

  /** Asks the relay who the token is. */
  async check(): Promise<void> {
    const generation = ++this.#generation;
    const token = this.token;
    if (token === null) {
      this.state = 'signed-out';
      return;
    }
    if (this.state !== 'unreachable') this.state = 'checking';
    let res: Response;
    try {
      res = await this.fetch('/api/session', { cache: 'no-store', headers: { accept: 'application/json' } });
    } catch {
      if (generation === this.#generation) this.state = 'unreachable';
      return;
    }
    const body = (await res.json().catch(() => null)) as (SessionResponse & { error?: { message?: string } }) | null;
    if (generation !== this.#generation) return;
    if (res.ok && body?.token) {
      this.info = body.token;
      this.problem = null;
      this.state = 'signed-in';
      localStorage.setItem(INFO_KEY, JSON.stringify(body.token));
    } else if (res.status === 401) {
      this.info = null;
      localStorage.removeItem(INFO_KEY);
      this.problem = body?.error?.message ?? 'the token is unknown or revoked';
      this.state = 'refused';
    } else if (res.status === 502 || res.status === 504) {
      this.state = 'unreachable';
    } else {
      // The relay answered, but not with who the token is: say what it said, keep what was known.
      this.problem = `GET /api/session: ${res.status} ${body?.error?.message ?? ''}`.trim();
      this.state = 'unreachable';
    }
  }

  /** fetch() with the bearer token when there is one; its outcome tells relayStatus whether the relay is there. */
  fetch(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    const call = relayStatus.observe(fetch(input, { ...init, headers }));
    // A 401 on any call means the token stopped working (revoked meanwhile): check it again.
    void call.then(
      (res) => {
        if (res.status === 401 && this.state === 'signed-in' && !input.startsWith('/api/session')) void this.check();
      },
      () => undefined,
    );
    return call;
  }
}

function readInfo(): SessionToken | null {
  try {
    const v = JSON.parse(localStorage.getItem(INFO_KEY) ?? 'null') as SessionToken | null;
    return v !== null && typeof v === 'object' && Array.isArray(v.scopes) ? v : null;
  } catch {
    return null;
  }
}

export const session = new Session();
