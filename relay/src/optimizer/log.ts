/**
 * The optimizer's log: one typed entry per decision, verification, halt, resume or error,
 * and the one-line text the command prints for it.
 */
import type { KnobPatch } from '../../../protocol/knobs.ts';

export type LogKind =
  /** A knob change was decided and accepted; `reason` is the `reason` the apply carried. */
  | 'decision'
  /** Leave alone (in target, no speech, nothing left to move); logged when the verdict changes. */
  | 'hold'
  /** A change did what it should. */
  | 'verified'
  /** A change failed verification: the station is left alone until an operator resets it. */
  | 'halted'
  /** An operator's knob change after a halt: optimization resumes. */
  | 'resumed'
  /** A request failed, or a decided change was refused. */
  | 'error'
  /** Start, stop, a trace appearing or ending. */
  | 'info';

export interface LogEntry {
  /** When the entry was made, ISO-8601. */
  at: string;
  kind: LogKind;
  traceId?: string;
  stationKey?: string;
  /** The bucket the entry is about. */
  bucketTs?: string;
  message: string;
  /** Decisions, holds, verifications and halts: why. */
  reason?: string;
  knobs?: KnobPatch;
  applyAtBucketTs?: string;
  configVersion?: number;
}

export type Logger = (entry: LogEntry) => void;

/** `21:15:05` of an ISO timestamp (buckets are whole seconds). */
export function clockOf(iso: string): string {
  return iso.slice(11, 19);
}

export function formatKnobs(knobs: KnobPatch): string {
  return Object.entries(knobs)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

/** One line: time, kind, trace/station, message. */
export function formatLogEntry(e: LogEntry): string {
  const who = e.traceId === undefined ? '' : ` ${e.traceId}${e.stationKey === undefined ? '' : `/${e.stationKey}`}`;
  return `${e.at} ${e.kind.padEnd(8)}${who} ${e.message}`;
}

/** The command's logger: each entry as one line on stdout. */
export const printLogger: Logger = (e) => {
  process.stdout.write(`${formatLogEntry(e)}\n`);
};
