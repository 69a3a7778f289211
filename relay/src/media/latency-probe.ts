/**
 * Hangs off the POST tap of a live station: the pipeline's processing latency, from the
 * moment the station's clock let a frame's packet go on (after its wait in the jitter
 * buffer, which is the buffer's own figure: call_quality.jitter_buffer_delay_ms) to its
 * POST meters, per 20 ms frame (`/api/relay/stats`, /metrics). Concealed frames never
 * arrived and are not measured.
 */
import type { LatencyHistogram } from './latency-histogram.ts';
import type { Frame, TapSink } from './stage.ts';

export class LatencyProbe implements TapSink {
  constructor(private readonly histogram: LatencyHistogram) {}

  consume(frame: Frame): void {
    if (!frame.concealed) this.histogram.record(performance.timeOrigin + performance.now() - (frame.releasedMs ?? frame.arrivalMs));
  }
}
