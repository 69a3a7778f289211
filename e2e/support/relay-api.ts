/** Small typed calls to a relay's REST API for the browser tests' assertions. */
import type { TraceDetail } from '../../protocol/api.ts';
import type { KnobPatch } from '../../protocol/knobs.ts';
import { BUCKET_MS } from '../../protocol/metrics.ts';
import { nextApplyBucketMs, type ApplyResponse, type SnapshotEntry } from '../../protocol/optimizer-api.ts';
import { readWav } from '../../relay/src/audio/wav.ts';

export class RelayApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async get<T>(path: string): Promise<T> {
    const res = await fetch(this.baseUrl + path, { headers: { authorization: `Bearer ${this.token}` } });
    const body = (await res.json()) as T & { success: boolean };
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  async trace(traceId: string): Promise<TraceDetail> {
    return (await this.get<{ trace: TraceDetail }>(`/api/traces/${traceId}`)).trace;
  }

  /** Complete buckets of a trace, oldest first. */
  async buckets(traceId: string, limit = 100): Promise<SnapshotEntry[]> {
    const body = await this.get<{ buckets?: SnapshotEntry[] }>(`/api/optimizer/snapshot?trace_id=${traceId}&limit=${limit}`);
    return [...(body.buckets ?? [])].sort((a, b) => a.bucket_ts.localeCompare(b.bucket_ts));
  }

  /**
   * Schedules `knobs` as an operator would, for the next bucket boundary at least `leadMs`
   * away; returns that bucket's start and the relay's answer (status checked by the caller).
   */
  async applyAtNextBucket(o: { traceId: string; stationKey: string; knobs: KnobPatch; reason: string; idempotencyKey: string; leadMs: number }): Promise<{ applyMs: number; status: number; body: ApplyResponse }> {
    const applyMs = nextApplyBucketMs(Date.now(), BUCKET_MS, o.leadMs);
    const res = await fetch(`${this.baseUrl}/api/optimizer/knobs/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        trace_id: o.traceId,
        station_key: o.stationKey,
        apply_at_bucket_ts: new Date(applyMs).toISOString(),
        idempotency_key: o.idempotencyKey,
        source: 'operator',
        reason: o.reason,
        knobs: o.knobs,
      }),
    });
    return { applyMs, status: res.status, body: (await res.json()) as ApplyResponse };
  }

  /** A segment's samples as floats in [-1, 1). */
  async segment(endpoint: string): Promise<Float32Array> {
    const res = await fetch(this.baseUrl + endpoint, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new Error(`GET ${endpoint}: ${res.status}`);
    return readWav(Buffer.from(await res.arrayBuffer())).samples;
  }
}
