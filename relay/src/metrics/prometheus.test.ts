/**
 * `GET /metrics` on a real relay: the process's own figures are there, read at scrape time
 * (CPU that grows with work, resident memory, heap, open files, start time), and nothing of
 * prom-client's default metrics, whose event-loop monitor would wake an idle relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
}, 60_000);

afterAll(async () => {
  await t?.close();
});

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } });
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('process metrics', () => {
  it('report CPU, memory, heap, open files and start time as the process has them', async () => {
    const a = await scrape();
    // Some work between the scrapes: CPU time moves on.
    let x = 0;
    for (let i = 0; i < 5e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const b = await scrape();
    expect(b.get('tapwire_process_cpu_seconds_total')).toBeGreaterThan(a.get('tapwire_process_cpu_seconds_total') as number);
    expect(b.get('tapwire_process_cpu_seconds_total')).toBeCloseTo((b.get('tapwire_process_cpu_user_seconds_total') as number) + (b.get('tapwire_process_cpu_system_seconds_total') as number), 2);
    expect(b.get('tapwire_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(b.get('tapwire_process_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(b.get('tapwire_process_nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(b.get('tapwire_process_nodejs_heap_size_total_bytes') as number);
    // stdin, stdout, stderr, the database, the listening socket at least.
    expect(b.get('tapwire_process_open_fds')).toBeGreaterThanOrEqual(5);
    const start = b.get('tapwire_process_start_time_seconds') as number;
    expect(Math.abs(start - performance.timeOrigin / 1000)).toBeLessThan(2);
  });

  it('leave out prom-client defaults (no event-loop monitor timer at rest)', async () => {
    const names = [...(await scrape()).keys()];
    expect(names.filter((n) => n.includes('eventloop_lag') || n.startsWith('nodejs_') || n.startsWith('process_'))).toEqual([]);
    expect(names).toContain('tapwire_event_loop_lag_p99_seconds');
  });
});
