/**
 * Media worker priority on a real pool: a worker asks for its configured nice value for its
 * own thread only; where the system grants it (root or CAP_SYS_NICE) the thread runs at it
 * and the control plane's thread does not; where not, the worker says why and runs as usual.
 */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaPool } from './pool.ts';

const events = { bucket: () => undefined, meters: () => undefined, workerFailed: () => undefined };
let pool: MediaPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
});

/** A thread's nice value (field 19 of /proc/<pid>/task/<tid>/stat). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]);
}

/** Whether this process may raise a priority: tried on the test's own thread, and put back. */
function mayRaise(): boolean {
  try {
    setPriority(0, -1);
    setPriority(0, 0);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(process.platform === 'linux')('media worker priority', () => {
  it('is asked for on the worker thread alone, and reported as applied or refused with the reason', async () => {
    pool = new MediaPool(2, events, 50, 200, -5);
    await pool.start();
    const priorities = pool.priorities;
    expect(priorities).toHaveLength(2);
    for (const p of priorities) {
      expect(p.nice).toBe(-5);
      expect(p.tid).toBeGreaterThan(0);
      if (mayRaise()) {
        expect(p.applied).toBe(true);
        expect(niceOf(p.tid as number)).toBe(-5);
      } else {
        expect(p.applied).toBe(false);
        expect(p.reason).toMatch(/CAP_SYS_NICE/);
        expect(niceOf(p.tid as number)).toBe(0);
      }
    }
    // The control plane's thread keeps its priority.
    expect(niceOf(process.pid)).toBe(0);
  });

  it('is not asked for with 0', async () => {
    pool = new MediaPool(1, events, 50, 200, 0);
    await pool.start();
    expect(pool.priorities).toEqual([{ nice: 0, applied: false, reason: expect.stringMatching(/not asked for/) }]);
  });
});
