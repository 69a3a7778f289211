/**
 * Whether the relay can be reached. Every API call of the app (session.fetch) reports its
 * outcome here: an answer of any status means the relay is there, a network error (or a
 * proxy's 502/504 in `vite dev`) means it is not. While it is not, `/healthz` is probed with
 * backoff (1 s doubling to 10 s, the transports' schedule); the first answer ends the outage
 * and tells the pages, which resume at once instead of waiting out their own backoff.
 *
 * When the relay was last reached is kept on the device, so an installed app opened with the
 * relay down can still say it.
 */
const LAST_REACHED_KEY = 'tapwire.relay.last-reached';

/** First probe delay after an outage begins, ms. */
export const PROBE_MIN_MS = 1000;
/** Longest probe delay, ms. */
export const PROBE_MAX_MS = 10_000;
/** The stored time is written at most this often while API calls succeed, ms. */
const PERSIST_EVERY_MS = 5000;

export type Reachability = 'unknown' | 'reachable' | 'unreachable';

/** Delay before probe `attempt` (0, 1, 2, ...) of an outage, ms. */
export function probeDelayMs(attempt: number, minMs = PROBE_MIN_MS, maxMs = PROBE_MAX_MS): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
}

class RelayStatus {
  state = $state<Reachability>('unknown');
  /** Last answer from the relay, ms since the epoch; null when this device never had one. */
  lastReachedMs = $state<number | null>(null);
  /** When the next probe goes out during an outage, ms since the epoch. */
  nextProbeAtMs = $state<number | null>(null);

  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #probing = false;
  #persistedMs = 0;
  #started = false;
  readonly #recovered = new Set<() => void>();

  /** Reads the stored time, probes once, and probes again when the browser comes back online. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const stored = Number(localStorage.getItem(LAST_REACHED_KEY));
    if (Number.isFinite(stored) && stored > 0 && this.lastReachedMs === null) this.lastReachedMs = stored;
    window.addEventListener('online', () => void this.probeNow());
    void this.probeNow();
  }

  /** Calls `fn` each time an outage ends; returns the unsubscribe. */
  onRecovered(fn: () => void): () => void {
    this.#recovered.add(fn);
    return () => this.#recovered.delete(fn);
  }

  /** The relay answered (any status). */
  reached(): void {
    const now = Date.now();
    this.lastReachedMs = now;
    if (now - this.#persistedMs >= PERSIST_EVERY_MS) {
      this.#persistedMs = now;
      localStorage.setItem(LAST_REACHED_KEY, String(now));
    }
    const wasDown = this.state === 'unreachable';
    this.state = 'reachable';
    this.#attempt = 0;
    this.nextProbeAtMs = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (!wasDown) return;
    for (const fn of this.#recovered) {
      try {
        fn();
      } catch (e) {
        // One page's failure to resume must not keep the others from resuming.
        console.error('relay-status: a recovery listener failed', e);
      }
    }
  }

  /** A call could not reach the relay: the outage begins (or goes on) and probing starts. */
  unreachable(): void {
    this.state = 'unreachable';
    if (this.#timer === null && !this.#probing) this.#schedule();
  }

  /** Watches one call: its answer or its network error says whether the relay is there. */
  observe(call: Promise<Response>): Promise<Response> {
    call.then(
      (res) => (res.status === 502 || res.status === 504 ? this.unreachable() : this.reached()),
      (e: unknown) => {
        // A call the page aborted says nothing about the relay.
        if (!(e instanceof DOMException && e.name === 'AbortError')) this.unreachable();
      },
    );
    return call;
  }

  /** Probes `/healthz` now (the banner's "retry now", the browser's `online` event). */
  async probeNow(): Promise<void> {
    if (this.#probing) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#probing = true;
    let ok = false;
    try {
      const res = await fetch('/healthz', { cache: 'no-store' });
      ok = res.ok;
    } catch {
      ok = false;
    } finally {
      this.#probing = false;
    }
    if (ok) {
      this.reached();
      return;
    }
    this.state = 'unreachable';
    this.#schedule();
  }

  #schedule(): void {
    const delayMs = probeDelayMs(this.#attempt++);
    this.nextProbeAtMs = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.probeNow();
    }, delayMs);
  }
}

export const relayStatus = new RelayStatus();
