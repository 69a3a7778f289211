/**
 * A live WebM stream of one egress Opus stream, for `mode=mse` listeners (protocol/listen.ts):
 * mediabunny's append-only Matroska muxer (FIELD-NOTES.md, "Live WebM for MSE"), with
 * callbacks for the pieces a live stream is made of:
 *
 *   init segment   the EBML header and the segment header (Segment and Cluster of unknown
 *                  size, as live needs); a late joiner gets it first.
 *   clusters       each a whole media segment, handed on once the next one starts, so the
 *                  cluster duration is the delay this adds.
 *
 * The WebM timeline counts the packets: packet n starts at n × 20 ms, from 0 at the stream's
 * first packet. A gap in the station's audio (a sender that stalled) is therefore no gap in
 * the WebM: a browser's MSE stops at a gap in the buffered ranges, and would wait there for
 * ever. An encoder restart (a re-enabled egress starts its sequence at 0) goes on in the same
 * timeline, and with the same init segment (its bytes depend only on the OpusHead below), so
 * a SourceBuffer needs nothing new.
 *
 * Bounded memory: mediabunny keeps one cue point per cluster for the file's index, which a
 * live stream never writes. So every `rolloverClusters` clusters the muxer moves on to a new
 * mediabunny Output that continues the same timeline; the old one is finalized, which hands
 * on its last cluster. The new Output's init segment is compared with the one given out:
 * only if its bytes differ is it handed on (`onInit`) again.
 */
import { EncodedAudioPacketSource, EncodedPacket, NullTarget, Output, WebMOutputFormat } from 'mediabunny';
import { LISTEN_CHANNELS, LISTEN_FRAME_MS, LISTEN_SAMPLE_RATE } from '../../../protocol/listen.ts';
import { opusHead as oggOpusHead } from '../../../protocol/ogg-opus.ts';

/**
 * libopus's encoder delay at 48 kHz (OPUS_GET_LOOKAHEAD for the VOIP and AUDIO applications:
 * 2.5 ms + 4 ms): the decoder drops this many samples at the start (RFC 7845 §4.2, pre-skip).
 */
export const OPUS_PRE_SKIP_48K = 312;

/** The 19-byte Opus identification header (RFC 7845 §5.1), mono, mapping family 0: the WebM CodecPrivate. */
export function opusHead(preSkip = OPUS_PRE_SKIP_48K, channels = LISTEN_CHANNELS, inputSampleRate = LISTEN_SAMPLE_RATE): Uint8Array {
  return oggOpusHead(channels, preSkip, inputSampleRate);
}

export interface WebmLiveMuxerOptions {
  /** Length of a cluster, ms: a multiple of the 20 ms packet (the delay this adds). */
  clusterMs: number;
  /** Clusters per mediabunny Output before moving on to a new one (bounds its cue list); default 1500. */
  rolloverClusters?: number;
  /** The timeline starts at this packet (a muxer started again after a failure goes on where the last one stopped); default 0. */
  startAtPacket?: number;
}

export interface WebmLiveMuxerSink {
  /** The init segment (EBML header + segment header): at the start, and again only if its bytes change. */
  onInit(init: Buffer): void;
  /**
   * A whole cluster. `firstArrivalMs` is when the ingest packet behind its first block arrived
   * on the relay (epoch ms): the cluster's oldest audio, for the ingest-to-send latency.
   */
  onCluster(cluster: Buffer, startMs: number, firstArrivalMs: number): void;
  /** mediabunny refused something: the stream should be started again. */
  onError(err: Error): void;
}

/** One mediabunny Output and what its callbacks need to know. */
interface Segment {
  output: Output;
  source: EncodedAudioPacketSource;
  /** Packets given to this Output. */
  packets: number;
  /** Its EBML header, until the segment header completes the init segment. */
  ebmlHeader: Uint8Array | null;
  /** Set while an older Output is still finalizing: this one's pieces wait, so that they stay in order. */
  held: (() => void)[] | null;
}

const FRAME_S = LISTEN_FRAME_MS / 1000;
/** Arrival times of the packets not yet in a handed-on cluster: a small ring, indexed by packet number. */
const ARRIVAL_RING = 1024;

export class WebmLiveMuxer {
  private readonly clusterMs: number;
  private readonly packetsPerOutput: number;
  /** What the first packet of each Output carries: the codec and its OpusHead (the WebM's CodecPrivate). */
  private readonly decoderConfig = {
    decoderConfig: { codec: 'opus', numberOfChannels: LISTEN_CHANNELS, sampleRate: LISTEN_SAMPLE_RATE, description: opusHead() },
  };
  private segment: Segment;
  /** The init segment given out (null until the first packet). */
  private init: Buffer | null = null;
  /** Packets muxed so far: the next packet's place on the timeline. */
  private packets = 0;
  private readonly arrivals = new Float64Array(ARRIVAL_RING);
  private closed = false;

  constructor(
    options: WebmLiveMuxerOptions,
    private readonly sink: WebmLiveMuxerSink,
  ) {
    const { clusterMs, rolloverClusters = 1500, startAtPacket = 0 } = options;
    if (!Number.isInteger(clusterMs) || clusterMs < LISTEN_FRAME_MS || clusterMs % LISTEN_FRAME_MS !== 0 || clusterMs * 4 > ARRIVAL_RING * LISTEN_FRAME_MS) {
      throw new TypeError(`clusterMs must be a multiple of ${LISTEN_FRAME_MS} ms from ${LISTEN_FRAME_MS} to ${(ARRIVAL_RING * LISTEN_FRAME_MS) / 4}, got ${clusterMs}`);
    }
    if (!Number.isInteger(rolloverClusters) || rolloverClusters < 1) throw new TypeError(`rolloverClusters must be a positive integer, got ${rolloverClusters}`);
    this.clusterMs = clusterMs;
    if (!Number.isInteger(startAtPacket) || startAtPacket < 0) throw new TypeError(`startAtPacket must be an integer >= 0, got ${startAtPacket}`);
    this.packetsPerOutput = rolloverClusters * (clusterMs / LISTEN_FRAME_MS);
    this.packets = startAtPacket;
    this.segment = this.newSegment(null);
  }

  /** The init segment, once the first packet is in (what a joiner gets first). */
  get initSegment(): Buffer | null {
    return this.init;
  }

  /** Packets muxed so far. */
  get packetCount(): number {
    return this.packets;
  }

  /**
   * Appends one 20 ms Opus packet at the next place on the timeline. `data` must not be
   * changed afterwards (the cluster is written later).
   */
  push(data: Uint8Array, arrivalMs: number): void {
    if (this.closed) return;
    // At a cluster boundary, so that the old Output's last cluster is a whole one.
    if (this.segment.packets === this.packetsPerOutput) this.rollover();
    const seg = this.segment;
    const n = this.packets++;
    this.arrivals[n % ARRIVAL_RING] = arrivalMs;
    // Every Opus packet decodes on its own: each is a key packet.
    const packet = new EncodedPacket(data, 'key', n * FRAME_S, FRAME_S);
    seg.source.add(packet, seg.packets++ === 0 ? this.decoderConfig : undefined).catch((err: unknown) => this.fail(err));
  }

  /** Stops muxing; what is not yet a whole cluster is dropped. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.segment.output.cancel().catch(() => undefined);
  }

  private newSegment(previous: Promise<void> | null): Segment {
    const source = new EncodedAudioPacketSource('opus');
    const seg: Segment = { output: new Output({ format: this.format(() => seg), target: new NullTarget() }), source, packets: 0, ebmlHeader: null, held: previous === null ? null : [] };
    seg.output.addAudioTrack(source);
    seg.output.start().catch((err: unknown) => this.fail(err));
    if (previous !== null) {
      void previous.then(() => {
        const held = seg.held ?? [];
        seg.held = null;
        for (const f of held) f();
      });
    }
    return seg;
  }

  /** The WebM format of one Output, whose callbacks hand its pieces on in order. */
  private format(segment: () => Segment): WebMOutputFormat {
    const inOrder = (f: () => void): void => {
      if (this.closed) return;
      const seg = segment();
      if (seg.held === null) f();
      else seg.held.push(f);
    };
    return new WebMOutputFormat({
      appendOnly: true,
      // A cluster starts at the first packet at least this far into the current one: with
      // 20 ms packets, exactly clusterMs / 20 packets per cluster.
      minimumClusterDuration: (this.clusterMs - LISTEN_FRAME_MS / 2) / 1000,
      onEbmlHeader: (data) => {
        segment().ebmlHeader = data.slice();
      },
      onSegmentHeader: (data) => {
        const init = Buffer.concat([segment().ebmlHeader ?? new Uint8Array(0), data]);
        inOrder(() => this.offerInit(init));
      },
      onCluster: (data, _position, timestampS) => {
        // A fresh buffer per cluster (mediabunny never reuses it): shared, not copied.
        const cluster = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        const startMs = Math.round(timestampS * 1000);
        const firstArrivalMs = this.arrivals[Math.round(startMs / LISTEN_FRAME_MS) % ARRIVAL_RING];
        inOrder(() => this.sink.onCluster(cluster, startMs, firstArrivalMs));
      },
    });
  }

  /** Moves on to a new Output; the old one hands on its last cluster as it finalizes. */
  private rollover(): void {
    const old = this.segment;
    const finalized = old.output.finalize().catch((err: unknown) => this.fail(err));
    this.segment = this.newSegment(finalized);
  }

  private offerInit(init: Buffer): void {
    if (this.init !== null && this.init.equals(init)) return;
    this.init = init;
    this.sink.onInit(init);
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.close();
    this.sink.onError(err instanceof Error ? err : new Error(String(err)));
  }
}
