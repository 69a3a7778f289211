/**
 * Hangs off the POST tap of a live station: the time from a frame's arrival on the relay's
 * event loop to its POST meters, per 20 ms frame (`/api/relay/stats`, /metrics). Concealed
 * frames never arrived and are not measured.
 */
import type { LatencyHistogram } from './latency-histogram.ts';
import type { Frame, TapSink } from './stage.ts';

export class LatencyProbe implements TapSink {
  constructor(private readonly histogram: LatencyHistogram) {}

  consume(frame: Frame): void {
    if (!frame.concealed) this.histogram.record(performance.timeOrigin + performance.now() - frame.arrivalMs);
  }
}
