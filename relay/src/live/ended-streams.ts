/**
 * Stream ids of stations (and of traces' mixes) that ended recently. A `stream_id` is a
 * capability (seed 002 §14) that stays valid for its stream's lifetime plus a grace
 * (TAPWIRE_LISTEN_GRACE_MS): a listener who arrives just after the station stopped is told
 * `stream_end`, not "no such stream". After the grace the id is forgotten, and is then as
 * unknown as one never issued.
 *
 * Bounded: entries are kept in the order their stations ended, so expiry takes them off the
 * front as time passes (no timer), and at most `maxEntries` are kept: a churn of stations
 * faster than that forgets the oldest early (counted in `evictedEarly`).
 */

/** What a late listener is told about a stream that ended. */
export interface EndedStream<Subject> {
  /** What the id named: a station, or a trace's mix. */
  subject: Subject;
  /** The registry's reason for the end ("stop", "idle", "disconnect", ...). */
  reason: string;
  endedAtMs: number;
}

export class EndedStreams<Subject> {
  private readonly byId = new Map<string, EndedStream<Subject>>();
  /** Entries forgotten before their grace was over, because `maxEntries` were held. */
  evictedEarly = 0;

  constructor(
    /** How long an ended stream's id stays valid, ms. */
    private readonly graceMs: number,
    /** Ended streams remembered at most. */
    private readonly maxEntries = 10_000,
  ) {
    if (!(graceMs >= 0)) throw new TypeError(`graceMs must be >= 0, got ${graceMs}`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }

  add(streamId: string, subject: Subject, reason: string, endedAtMs: number): void {
    this.expire(endedAtMs);
    this.byId.delete(streamId); // keep the order of ends
    this.byId.set(streamId, { subject, reason, endedAtMs });
    if (this.byId.size > this.maxEntries) {
      const oldest = this.byId.keys().next().value as string;
      this.byId.delete(oldest);
      this.evictedEarly++;
    }
  }

  /** The ended stream, while its grace lasts. */
  get(streamId: string, nowMs: number): EndedStream<Subject> | undefined {
    this.expire(nowMs);
    return this.byId.get(streamId);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Forgets the streams whose grace is over: they are at the front. */
  private expire(nowMs: number): void {
    for (const [id, e] of this.byId) {
      if (nowMs - e.endedAtMs < this.graceMs) return;
      this.byId.delete(id);
    }
  }
}
