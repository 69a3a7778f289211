/**
 * Measuring the relay apart from its load: on a machine with two cores or more, the relay
 * (every thread: main, media workers, libuv) runs on one core and the load generator on
 * another, so the relay's figures are its own and not the load's. `taskset` (util-linux)
 * sets the affinity; threads started later inherit it.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuPlan {
  /** Cores the relay runs on (a `taskset -c` list), or null for anywhere. */
  relay: string | null;
  /** Cores the load generator runs on, or null for anywhere. */
  load: string | null;
  label: string;
}

/** The plan for a mode: pinned needs two cores and taskset, else it falls back to unpinned, and says so. */
export function cpuPlan(mode: 'pinned' | 'unpinned'): CpuPlan {
  if (mode === 'pinned' && availableParallelism() >= 2 && hasTaskset()) {
    return { relay: '1', load: '0', label: 'pinned: relay on core 1 (all threads), load on core 0' };
  }
  const why = mode === 'pinned' ? ' (pinning needs two cores and taskset)' : '';
  return { relay: null, load: null, label: `unpinned: relay and load share every core${why}` };
}

/** Sets this process's affinity (all its threads) to `cpus`; null leaves it free. */
export function pinSelf(cpus: string | null): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus ?? `0-${availableParallelism() - 1}`, String(process.pid)], { stdio: 'ignore' });
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
