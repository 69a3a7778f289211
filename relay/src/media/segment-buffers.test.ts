/**
 * Segment slots in shared slabs: a chunk written in the worker reads the same through the
 * control plane's view of its slot; slots are reused before a new slab is made; slabs
 * that are all idle beyond the bound are freed (and the control plane told), the others
 * kept.
 */
import { describe, expect, it } from 'vitest';
import { SegmentBuffers, SlabViews, SLOTS_PER_SLAB } from './segment-buffers.ts';

const SAMPLES = 24000; // half a second at 48 kHz

function pool(minIdleBytes = 0): { buffers: SegmentBuffers; views: SlabViews; events: string[] } {
  const views = new SlabViews();
  const events: string[] = [];
  const buffers = new SegmentBuffers(
    {
      made: (id, buffer, samples) => {
        events.push(`made ${id} ${samples}`);
        views.made(id, buffer);
      },
      freed: (id) => {
        events.push(`freed ${id}`);
        views.freed(id);
      },
    },
    minIdleBytes,
  );
  return { buffers, views, events };
}

describe('segment slots', () => {
  it('are read through the control plane view of their slot as written', () => {
    const { buffers, views } = pool();
    const a = buffers.acquire(SAMPLES);
    const b = buffers.acquire(SAMPLES);
    a.fill(1234);
    b.fill(-77);
    expect(views.view(buffers.slotOf(a), SAMPLES).every((v) => v === 1234)).toBe(true);
    expect(views.view(buffers.slotOf(b), SAMPLES).every((v) => v === -77)).toBe(true);
    expect(buffers.slotOf(a)).not.toBe(buffers.slotOf(b));
  });

  it('are reused once handed back, before any new slab is made', () => {
    const { buffers, events } = pool();
    const held = Array.from({ length: SLOTS_PER_SLAB }, () => buffers.acquire(SAMPLES));
    expect(events).toEqual([`made 0 ${SAMPLES}`]);
    const slot = buffers.slotOf(held[5]);
    buffers.releaseSlot(slot);
    const again = buffers.acquire(SAMPLES);
    expect(buffers.slotOf(again)).toBe(slot);
    expect(events).toHaveLength(1);
    buffers.acquire(SAMPLES);
    expect(events).toEqual([`made 0 ${SAMPLES}`, `made 1 ${SAMPLES}`]);
  });

  it('keep slabs in use or within the bound, free the idle ones beyond it and say so', () => {
    const { buffers, views, events } = pool(0);
    const slab = (): Int16Array[] => Array.from({ length: SLOTS_PER_SLAB }, () => buffers.acquire(SAMPLES));
    const first = slab();
    const later = [...slab(), ...slab()];
    for (const v of later) buffers.release(v);
    // The peak (three slabs in use) still bounds the idle bytes: nothing is freed yet.
    buffers.trim(0);
    expect(buffers.slabCount).toBe(3);
    // Two windows later the peak is one slab in use: as many idle bytes stay (the next
    // bucket fills while this one is written), the slab beyond them goes, the highest first.
    buffers.trim(5_000);
    buffers.trim(10_000);
    expect(events.filter((e) => e.startsWith('freed'))).toEqual(['freed 2']);
    expect(buffers.slabCount).toBe(2);
    expect(() => views.view(2 * SLOTS_PER_SLAB, SAMPLES)).toThrow(/no slab/);
    // The first slab, in use, stays; once all idle and the peak forgotten, every slab goes.
    for (const v of first) buffers.release(v);
    buffers.trim(11_000, true);
    expect(events.filter((e) => e.startsWith('freed'))).toEqual(['freed 2', 'freed 1', 'freed 0']);
    expect(buffers.slabCount).toBe(0);
    expect(buffers.idleByteCount).toBe(0);
  });

  it('refuse a chunk that is not theirs', () => {
    const { buffers } = pool();
    expect(() => buffers.release(new Int16Array(SAMPLES))).toThrow(/not a segment buffer/);
  });
});
