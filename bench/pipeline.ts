/**
 * CPU cost of one station's media pipeline (decode, PRE meters, chain, POST meters, bucket
 * accumulation), measured on one thread with no I/O: the per-station budget a media
 * worker spends, whatever the transport (pipeline-cost.ts).
 *
 *   node --import tsx bench/pipeline.ts [--stations 50] [--seconds 20] [--codec opus|pcm16] [--chain off|on]
 */
import { parseArgs } from 'node:util';
import { measurePipeline } from './pipeline-cost.ts';

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    codec: { type: 'string', default: 'opus' },
    chain: { type: 'string', default: 'off' },
  },
});
const n = Number(values.stations);
const seconds = Number(values.seconds);
const codec = values.codec === 'pcm16' ? 'pcm16' : 'opus';
const r = measurePipeline({ stations: n, seconds, codec, chain: values.chain === 'on' });
console.log(
  `${codec}, chain ${values.chain}: ${n} stations x ${seconds} s of 48 kHz audio in ${r.cpuS.toFixed(2)} CPU s -> ` +
    `${r.percentPerStation.toFixed(3)} % of a core per station, ${r.usPerFrame.toFixed(1)} us per 20 ms frame; ${r.buckets} buckets`,
);
