/** CPU time and resident memory of a process, from Linux's /proc (benchmarks only). */
import { readFileSync } from 'node:fs';

export function procStat(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime (fields 14, 15), in 1/100 s
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuS: ticks / 100, rssMb: rssKb / 1024 };
}
