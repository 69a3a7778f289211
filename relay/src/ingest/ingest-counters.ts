/** Relay-wide ingest counters kept by the control plane (the media plane counts per station). */
export interface IngestCounters {
  connections: number;
  framesReceived: number;
  bytesReceived: number;
  decodeErrors: number;
  /** Frames or messages rejected before reaching a station: bad headers, JSON, base64, order. */
  protocolErrors: number;
}

export function newIngestCounters(): IngestCounters {
  return { connections: 0, framesReceived: 0, bytesReceived: 0, decodeErrors: 0, protocolErrors: 0 };
}
