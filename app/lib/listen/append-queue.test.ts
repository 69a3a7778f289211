import { describe, expect, it } from 'vitest';
import { AppendQueue, isInitSegment } from './append-queue.ts';

/**
 * A SourceBuffer as the MSE spec describes its update cycle (MSE §3.2: appendBuffer and
 * remove set `updating`, then fire 'updateend'; calling either while updating throws
 * InvalidStateError), finishing each operation when the test says so. It records what the
 * queue asked of it. A stand-in for the browser's object, not for any of ours.
 */
class SpecSourceBuffer extends EventTarget {
  updating = false;
  readonly calls: string[] = [];
  /** Appends refused with QuotaExceededError from now on, until reset. */
  full = false;

  appendBuffer(data: ArrayBuffer): void {
    if (this.updating) throw new DOMException('still updating', 'InvalidStateError');
    if (this.full) throw new DOMException('no room', 'QuotaExceededError');
    this.calls.push(`append ${new Uint8Array(data)[4]}`);
    this.updating = true;
  }

  remove(start: number, end: number): void {
    if (this.updating) throw new DOMException('still updating', 'InvalidStateError');
    this.calls.push(`remove ${start}-${end}`);
    this.updating = true;
  }

  abort(): void {
    this.calls.push('abort');
  }

  /** The operation in progress ends. */
  finish(): void {
    this.updating = false;
    this.dispatchEvent(new Event('updateend'));
  }
}

/** A cluster (or with `init`, an init segment) of `size` bytes, tagged `id` at byte 4. */
function segment(id: number, size = 16, init = false): ArrayBuffer {
  const b = new Uint8Array(size);
  if (init) b.set([0x1a, 0x45, 0xdf, 0xa3]);
  else b.set([0x1f, 0x43, 0xb6, 0x75]);
  b[4] = id;
  return b.buffer;
}

function setup(maxBytes = 1 << 20) {
  const sb = new SpecSourceBuffer();
  const events = { appended: [] as number[], full: 0, failed: [] as string[] };
  const q = new AppendQueue(sb as unknown as SourceBuffer, { appended: (t) => events.appended.push(t), full: () => events.full++, failed: (m) => events.failed.push(m) }, maxBytes);
  return { sb, q, events };
}

describe('AppendQueue', () => {
  it('tells an init segment (EBML magic) from a cluster', () => {
    expect(isInitSegment(segment(1, 16, true))).toBe(true);
    expect(isInitSegment(segment(1))).toBe(false);
    expect(isInitSegment(new ArrayBuffer(2))).toBe(false);
  });

  it('runs one operation at a time, in order, never while the buffer is updating', () => {
    const { sb, q, events } = setup();
    q.append(segment(0, 16, true), 100);
    q.append(segment(1), 120);
    q.remove(0, 5);
    q.append(segment(2), 140);
    expect(sb.calls).toEqual(['append 0']);
    for (let i = 0; i < 3; i++) sb.finish();
    expect(sb.calls).toEqual(['append 0', 'append 1', 'remove 0-5', 'append 2']);
    sb.finish();
    expect(events.appended).toEqual([100, 120, 140]);
    expect(q.length).toBe(0);
    expect(events.failed).toEqual([]);
  });

  it('over its cap, drops the oldest pending clusters and counts their bytes, never an init segment', () => {
    const { sb, q } = setup(64);
    q.append(segment(0, 16), 0); // running
    q.append(segment(1, 32, true), 0); // init: kept
    q.append(segment(2, 32), 0);
    q.append(segment(3, 32), 0); // 96 bytes pending: cluster 2 goes
    expect(q.droppedBytes).toBe(32);
    for (let i = 0; i < 3; i++) sb.finish();
    expect(sb.calls).toEqual(['append 0', 'append 1', 'append 3']);
  });

  it('on QuotaExceededError asks for room, removes ahead of the refused append, then retries it', () => {
    const { sb, q, events } = setup();
    q.append(segment(0), 0);
    sb.finish();
    sb.full = true;
    q.append(segment(1), 0);
    expect(events.full).toBe(1);
    q.remove(0, 10, true);
    expect(sb.calls).toEqual(['append 0', 'remove 0-10']);
    sb.full = false;
    sb.finish();
    expect(sb.calls).toEqual(['append 0', 'remove 0-10', 'append 1']);
  });

  it('gives up on an append refused three times for room, as a failure', () => {
    const { sb, q, events } = setup();
    sb.full = true;
    q.append(segment(0), 0);
    for (let i = 0; i < 2; i++) {
      q.remove(0, 1, true);
      sb.finish();
    }
    expect(events.full).toBe(2);
    expect(events.failed.length).toBe(1);
    expect(events.failed[0]).toContain('append failed');
  });

  it('on restart, drops what is pending and resets the parser before the next connection\'s data', () => {
    const { sb, q } = setup();
    q.append(segment(0), 0);
    q.append(segment(1), 0);
    q.restart();
    q.append(segment(9, 16, true), 0);
    sb.finish();
    expect(sb.calls).toEqual(['append 0', 'abort', 'append 9']);
  });

  it('does nothing more once closed', () => {
    const { sb, q, events } = setup();
    q.append(segment(0), 0);
    q.append(segment(1), 0);
    q.close();
    q.close();
    sb.finish();
    expect(sb.calls).toEqual(['append 0']);
    expect(events.appended).toEqual([]);
  });
});
