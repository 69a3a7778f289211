/**
 * What the listen page asks of a player, whichever it is (mse-player.ts: WebM through Media
 * Source Extensions; packet-player.ts: Opus packets, a decoder worker and a jitter-buffer
 * worklet). The session (listen-session.svelte.ts) owns the socket and hands each player
 * what arrives; players know nothing of sockets, pages or each other.
 */
import type { ListenBurst } from '../../../protocol/listen.ts';
import type { ListenPageMode } from './listen-link.ts';

export type PlayerState = 'idle' | 'buffering' | 'playing' | 'paused' | 'ended';

/** The low-latency player's jitter buffer and decoder, as the worklet publishes them. */
export interface PlayoutFigures {
  decoder: 'webcodecs' | 'wasm' | null;
  /** Whether frames reach the worklet through shared memory (cross-origin isolated) or messages. */
  path: 'shared ring' | 'messages';
  bufferMs: number;
  targetMs: number;
  jitterMs: number;
  concealedFrames: number;
  lateFrames: number;
  skippedFrames: number;
  overflowFrames: number;
  receivedFrames: number;
  playedFrames: number;
  /** Bursts after silence heard in the output, and when the last one was played (epoch ms). */
  onsets: number;
  lastOnsetWallMs: number | null;
}

export interface PlayerFigures {
  state: PlayerState;
  /** The playhead on the player's own timeline, s. */
  currentTime: number;
  /** Audio buffered ahead of the playhead, s. */
  bufferedAheadS: number;
  /** How far behind the live edge the playhead is, as far as the player can tell, s. */
  latencyS: number | null;
  /** Underruns since the player opened. */
  stalls: number;
  /** From opening the player to its first audible sample, ms. */
  timeToFirstAudioMs: number | null;
  /** When the first sample was heard, performance.now() ms (from the page's navigation start). */
  firstAudioAtMs: number | null;
  decodeErrors: number;
  playbackRate: number;
  /** Low-latency mode only. */
  playout: PlayoutFigures | null;
  /** WebRTC mode only. */
  webrtc?: WebRtcFigures;
}

/** The WebRTC player's figures, from the receiver's getStats (inbound-rtp) over the last second. */
export interface WebRtcFigures {
  connection: RTCPeerConnectionState;
  /** Mean time a sample spent in the browser's jitter buffer, ms (jitterBufferDelay / jitterBufferEmittedCount). */
  jitterBufferMs: number | null;
  /** The jitter buffer's own target, ms. */
  targetDelayMs: number | null;
  packetsReceived: number;
  packetsLost: number;
  /** Loss over the last second, %. */
  lossPercent: number | null;
  /** Interarrival jitter, ms. */
  jitterMs: number;
  /** Share of played samples that were concealment, %. */
  concealedPercent: number;
  bitrateBps: number | null;
  /** Mean power of the received audio over the last second (totalAudioEnergy), dBFS. */
  energyDbfs: number | null;
  /** The latest received audio level (audioLevel), 0-1 linear. */
  audioLevel: number;
  totalAudioEnergy: number;
}

export interface PlayerEvents {
  /** An underrun began (the session sends client_metrics at once). */
  stall(): void;
  /** Something the listener should read (an unsupported format, a decoder failure). */
  problem(message: string): void;
}

export interface ListenPlayer {
  readonly mode: ListenPageMode;
  /** Sets up the audio graph; rejects with a message for people when this browser cannot play this mode. */
  open(): Promise<void>;
  /** A new socket is open: expect an init segment (mse) or a new numbering (packets). */
  connected(): void;
  /**
   * The join burst to ask the relay for on the next connection: `default` (the newest
   * second at once) to start, `none` to reconnect while still holding audio (mse).
   */
  joinBurst(): ListenBurst;
  /** One binary message, and when it arrived (performance.now() ms). */
  receive(data: ArrayBuffer, arrivalMs: number): void;
  /** The station stopped: play out what is buffered, then end. */
  streamEnded(): void;
  pause(): void;
  /** Resumes at the live edge. */
  resume(): void;
  /** True when the browser wants a user gesture before it plays sound. */
  readonly needsGesture: boolean;
  /** Call from a click: starts the audio the browser held back. */
  unlock(): Promise<void>;
  figures(): PlayerFigures;
  /** The played audio's level: RMS over the last ~400 ms and the peak of the last ~50 ms, dBFS. */
  level(): { rmsDbfs: number; peakDbfs: number };
  /** Idempotent. */
  close(): void;
}
