/**
 * The signed-in session: the relay prints a sign-in link (`/?token=...`, read from its
 * admin-token file); opening it stores the token on this device and removes it from the
 * address bar, so it is not bookmarked or shared by accident. API calls then send it as a
 * bearer token.
 */
const STORAGE_KEY = 'tapwire.token';

class Session {
  token = $state<string | null>(null);

  /** Reads a `?token=` from the address (storing it) or the token stored before. */
  init(): void {
    const url = new URL(window.location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      localStorage.setItem(STORAGE_KEY, fromUrl);
      url.searchParams.delete('token');
      history.replaceState(history.state, '', url.pathname + (url.search === '?' ? '' : url.search) + url.hash);
    }
    this.token = localStorage.getItem(STORAGE_KEY);
  }

  signOut(): void {
    localStorage.removeItem(STORAGE_KEY);
    this.token = null;
  }

  /** fetch() with the bearer token when there is one. */
  fetch(input: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    return fetch(input, { ...init, headers });
  }
}

export const session = new Session();
