/**
 * Listening to a live station from the monitor page: the listen page's own session and
 * players (app/lib/listen), started in place on the station's POST tap. One station plays
 * at a time: playing another stops the first, so the monitor never mixes two stations in
 * one pair of ears.
 */
import { DEFAULT_BUFFER_S, type ListenOptions } from '$lib/listen/listen-link';
import { ListenSession } from '$lib/listen/listen-session.svelte';

/**
 * The low-latency player: a monitor listens to check what a station sounds like now, so the
 * jitter buffer's 20-200 ms beats the buffered player's second.
 */
const MONITOR_LISTEN_MODE: ListenOptions['mode'] = 'packets';

class StationListen {
  /** The monitor key of the station playing, or null. */
  key = $state<string | null>(null);
  session = $state.raw<ListenSession | null>(null);

  /** Plays the station's POST tap, stopping whatever played before. Call from a click (autoplay policy). */
  play(key: string, streamId: string): void {
    this.stop();
    const s = new ListenSession({ streamId, tap: 'POST', mode: MONITOR_LISTEN_MODE, bufferS: DEFAULT_BUFFER_S });
    this.session = s;
    this.key = key;
    void s.start();
  }

  /** Idempotent. */
  stop(): void {
    this.session?.close();
    this.session = null;
    this.key = null;
  }

  /** Stops only when `key` is the station playing (its panel went away). */
  stopIf(key: string): void {
    if (this.key === key) this.stop();
  }
}

export const stationListen = new StationListen();
