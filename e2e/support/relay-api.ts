/** Small typed calls to a relay's REST API for the browser tests' assertions. */
import type { TraceDetail } from '../../protocol/api.ts';
import type { SnapshotEntry } from '../../protocol/optimizer-api.ts';
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

  /** A segment's samples as floats in [-1, 1). */
  async segment(endpoint: string): Promise<Float32Array> {
    const res = await fetch(this.baseUrl + endpoint, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new Error(`GET ${endpoint}: ${res.status}`);
    return readWav(Buffer.from(await res.arrayBuffer())).samples;
  }
}
