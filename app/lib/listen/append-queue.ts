/**
 * The MSE player's one way into its SourceBuffer: appends, removes and parser resets wait
 * their turn and run one at a time, each only once the buffer is not `updating` (an append
 * while updating throws InvalidStateError). The queue is capped: if it backs up past
 * `maxBytes` (a tab in the background, a slow device), the oldest pending clusters are
 * dropped and counted; an init segment is never dropped, since nothing after it would parse.
 */

type Op =
  | { kind: 'append'; data: ArrayBuffer; arrivalMs: number; init: boolean }
  | { kind: 'remove'; start: number; end: number }
  /** SourceBuffer.abort(): reset the parser before a new connection's init segment. */
  | { kind: 'abort' };

export interface AppendQueueEvents {
  /** An append finished; `arrivalMs` is when its data arrived. */
  appended(arrivalMs: number, init: boolean): void;
  /** The buffer is full (QuotaExceededError): call remove(..., true) with played audio; the append is retried after it. */
  full(): void;
  /** The SourceBuffer failed (an 'error' event, or an append that threw otherwise). */
  failed(message: string): void;
}

/** EBML magic (RFC 8794 §8.1): an init segment starts with it, a cluster does not. */
export function isInitSegment(data: ArrayBuffer): boolean {
  const b = new Uint8Array(data, 0, Math.min(4, data.byteLength));
  return b.length === 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3;
}

export class AppendQueue {
  /** Bytes of clusters dropped because the queue was over its cap. */
  droppedBytes = 0;
  private readonly ops: Op[] = [];
  private pendingBytes = 0;
  private current: Op | null = null;
  private closed = false;
  /** Appends refused for lack of room in a row; the third refusal is a failure. */
  private quotaRetries = 0;
  private readonly onUpdateEnd = (): void => this.finish();
  private readonly onError = (): void => this.events.failed('the browser could not parse or decode the stream');

  constructor(
    private readonly sb: SourceBuffer,
    private readonly events: AppendQueueEvents,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {
    sb.addEventListener('updateend', this.onUpdateEnd);
    sb.addEventListener('error', this.onError);
  }

  /** Operations waiting or running. */
  get length(): number {
    return this.ops.length + (this.current !== null ? 1 : 0);
  }

  append(data: ArrayBuffer, arrivalMs: number): void {
    const init = isInitSegment(data);
    this.ops.push({ kind: 'append', data, arrivalMs, init });
    this.pendingBytes += data.byteLength;
    while (this.pendingBytes > this.maxBytes) {
      const i = this.ops.findIndex((op) => op.kind === 'append' && !op.init);
      if (i < 0) break;
      const [op] = this.ops.splice(i, 1);
      if (op.kind === 'append') {
        this.pendingBytes -= op.data.byteLength;
        this.droppedBytes += op.data.byteLength;
      }
    }
    this.pump();
  }

  /** Removes [start, end) s; `first` puts it ahead of pending appends (to make room). */
  remove(start: number, end: number, first = false): void {
    if (!(end > start)) return;
    // One remove waiting is enough: a newer one supersedes it.
    const i = this.ops.findIndex((op) => op.kind === 'remove');
    if (i >= 0) this.ops.splice(i, 1);
    if (first) this.ops.unshift({ kind: 'remove', start, end });
    else this.ops.push({ kind: 'remove', start, end });
    this.pump();
  }

  /** Before a new connection's data: drops what is pending and resets the parser. */
  restart(): void {
    this.ops.length = 0;
    this.pendingBytes = 0;
    this.ops.push({ kind: 'abort' });
    this.pump();
  }

  /** Idempotent; pending operations are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ops.length = 0;
    this.sb.removeEventListener('updateend', this.onUpdateEnd);
    this.sb.removeEventListener('error', this.onError);
  }

  private pump(): void {
    if (this.closed || this.current !== null || this.sb.updating) return;
    const op = this.ops.shift();
    if (op === undefined) return;
    try {
      if (op.kind === 'append') {
        this.pendingBytes -= op.data.byteLength;
        this.current = op;
        this.sb.appendBuffer(op.data);
      } else if (op.kind === 'remove') {
        this.current = op;
        this.sb.remove(op.start, op.end);
      } else {
        this.sb.abort();
        this.pump();
      }
    } catch (err) {
      this.current = null;
      if (op.kind === 'append' && err instanceof DOMException && err.name === 'QuotaExceededError' && this.quotaRetries < 2) {
        // Put it back, let the player remove played audio (ahead of it), then try again.
        this.quotaRetries++;
        this.ops.unshift(op);
        this.pendingBytes += op.data.byteLength;
        this.events.full();
        return;
      }
      this.quotaRetries = 0;
      this.events.failed(`${op.kind} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private finish(): void {
    const op = this.current;
    this.current = null;
    if (op?.kind === 'append') {
      this.quotaRetries = 0;
      this.events.appended(op.arrivalMs, op.init);
    }
    this.pump();
  }
}
