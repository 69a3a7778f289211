/** CPU time and resident memory of a process, from Linux's /proc (benchmarks only). */
import { readFileSync } from 'node:fs';

/** utime + stime of a /proc stat line (fields 14 and 15), in seconds. */
function cpuSeconds(statLine: string): number {
  const f = statLine.slice(statLine.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function procStat(pid: number): { cpuS: number; rssMb: number; mainThreadS: number } {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return {
    cpuS: cpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    rssMb: rssKb / 1024,
    // The main thread's task has the process's id.
    mainThreadS: cpuSeconds(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')),
  };
}
