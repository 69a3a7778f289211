/**
 * CPU cost of one station's media pipeline (decode, PRE meters, chain, POST meters, bucket
 * accumulation), measured on one thread with no I/O: the per-station budget a media
 * worker spends, whatever the transport (pipeline-cost.ts). With `--egress post|both`, the
 * same stations run again with listener egress (an Opus encoder on the POST tap, or on
 * both taps), and the difference is what egress costs per station.
 *
 *   node --import tsx bench/pipeline.ts [--stations 50] [--seconds 20] [--codec opus|pcm16] [--chain off|on]
 *     [--egress none|post|both] [--bitrate 32000] [--complexity 5] [--rate 48000 (pcm16: any, e.g. 44100)]
 */
import { parseArgs } from 'node:util';
import { measurePipeline, type EgressTaps, type PipelineCost } from './pipeline-cost.ts';

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    codec: { type: 'string', default: 'opus' },
    chain: { type: 'string', default: 'off' },
    egress: { type: 'string', default: 'none' },
    bitrate: { type: 'string', default: '32000' },
    complexity: { type: 'string', default: '5' },
    rate: { type: 'string', default: '48000' },
  },
});
const n = Number(values.stations);
const seconds = Number(values.seconds);
const codec = values.codec === 'pcm16' ? 'pcm16' : 'opus';
if (!['none', 'post', 'both'].includes(values.egress)) throw new RangeError(`--egress must be none, post or both, got ${values.egress}`);
const egress = values.egress as EgressTaps;
const sampleRate = Number(values.rate);
const base = { stations: n, seconds, codec, chain: values.chain === 'on', sampleRate } as const;

const line = (label: string, r: PipelineCost): string =>
  `${label}: ${n} stations x ${seconds} s of ${sampleRate / 1000} kHz audio in ${r.cpuS.toFixed(2)} CPU s -> ` +
  `${r.percentPerStation.toFixed(3)} % of a core per station, ${r.usPerFrame.toFixed(1)} us per 20 ms frame; ${r.buckets} buckets`;

const plain = measurePipeline(base);
console.log(line(`${codec}, chain ${values.chain}`, plain));
if (egress !== 'none') {
  const bitrate = Number(values.bitrate);
  const complexity = Number(values.complexity);
  const withEgress = measurePipeline({ ...base, egress, egressBitrate: bitrate, egressComplexity: complexity });
  console.log(line(`${codec}, chain ${values.chain}, egress ${egress} (${bitrate / 1000} kbit/s, complexity ${complexity})`, withEgress));
  const us = withEgress.usPerFrame - plain.usPerFrame;
  const percent = withEgress.percentPerStation - plain.percentPerStation;
  const encoders = egress === 'both' ? 2 : 1;
  console.log(
    `egress ${egress}: +${us.toFixed(1)} us per 20 ms frame per station (+${percent.toFixed(3)} % of a core; ` +
      `${(us / encoders).toFixed(1)} us per encoded packet), ${withEgress.egressPackets} packets of ${withEgress.egressMeanBytes.toFixed(0)} bytes on average`,
  );
}
