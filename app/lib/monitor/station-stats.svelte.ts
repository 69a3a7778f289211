/**
 * Polls `GET /api/relay/stats` (read:snapshots) every `periodMs` while the page is visible
 * and keeps every live station's health (station-health.ts) as reactive state. A hidden tab
 * does not poll; it polls at once when shown again. A failed poll keeps the last health:
 * `error` says why.
 */
import { session } from '$lib/session.svelte';
import { HealthTracker, parseRelayStats, type StationHealth } from './station-health';

export class StationStatsPoller {
  /** By `<trace_id>/<station_key>`. */
  health = $state<Record<string, StationHealth>>({});
  /** When the health was last read (performance.now()), or null before. */
  updatedMs = $state<number | null>(null);
  error = $state<string | null>(null);

  private readonly tracker = new HealthTracker();
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight = false;
  private started = false;
  private readonly onVisibility = (): void => this.schedule();

  constructor(
    /** Poll period, ms (default 2000). */
    private readonly periodMs = 2000,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.schedule();
  }

  /** Stops polling; safe to call twice. */
  close(): void {
    if (!this.started) return;
    this.started = false;
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.stopTimer();
  }

  private schedule(): void {
    if (!this.started || document.hidden) {
      this.stopTimer();
      return;
    }
    if (this.timer !== null) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.periodMs);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const res = await session.fetch('/api/relay/stats', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!res.ok) {
        this.error = res.status === 401 || res.status === 403 ? 'not allowed to read relay stats (needs read:snapshots)' : `relay stats: HTTP ${res.status}`;
        return;
      }
      const view = parseRelayStats(await res.json());
      if (view === null) {
        this.error = 'relay stats: unexpected answer';
        return;
      }
      if (!this.started) return;
      this.health = this.tracker.update(view, performance.now());
      this.updatedMs = performance.now();
      this.error = null;
    } catch {
      this.error = 'relay stats: relay unreachable';
    } finally {
      this.inFlight = false;
    }
  }
}
