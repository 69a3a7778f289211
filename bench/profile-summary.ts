/**
 * Summarizes V8 CPU profiles (from `--cpu-prof`, e.g. `npm run bench:stations -- --profile DIR`):
 * per thread, total time and the functions with the most self time.
 *
 *   node --import tsx bench/profile-summary.ts DIR [TOP] [SKIP_S]
 *
 * SKIP_S leaves out each profile's first seconds (start-up, module loading) to look at the
 * steady state.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2];
const top = Number(process.argv[3] ?? 12);
const skipUs = Number(process.argv[4] ?? 0) * 1e6;
for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
  const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
  const byNode = new Map<number, number>();
  let elapsedUs = 0;
  p.samples.forEach((id, i) => {
    elapsedUs += p.timeDeltas[i] ?? 0;
    if (elapsedUs >= skipUs) byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const self = new Map<string, number>();
  for (const n of p.nodes) {
    const where = n.callFrame.url.split('/').slice(-2).join('/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (byNode.get(n.id) ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = total - (self.get('(idle) :0') ?? 0);
  console.log(`== ${f}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy`);
  for (const [k, v] of [...self.entries()].filter(([k]) => k !== '(idle) :0').sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  }
}
