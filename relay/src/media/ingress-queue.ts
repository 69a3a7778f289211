import type { PacketView } from './packet-batch.ts';

/**
 * A station's bounded ingress queue (seed 001): a ring that drops the OLDEST packet when
 * full, so that a sender running ahead of real time loses its stalest audio, not its newest.
 * Every drop is counted.
 */
export class IngressQueue {
  private readonly ring: (PacketView | undefined)[];
  private head = 0;
  private size = 0;
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('queue capacity must be a positive integer');
    this.ring = new Array(capacity);
  }

  get depth(): number {
    return this.size;
  }

  /** Adds a packet; returns the dropped oldest packet when the queue was full. */
  push(p: PacketView): PacketView | undefined {
    let droppedPacket: PacketView | undefined;
    if (this.size === this.capacity) {
      droppedPacket = this.ring[this.head];
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.dropped++;
    }
    this.ring[(this.head + this.size) % this.capacity] = p;
    this.size++;
    return droppedPacket;
  }

  peek(): PacketView | undefined {
    return this.size === 0 ? undefined : this.ring[this.head];
  }

  shift(): PacketView | undefined {
    if (this.size === 0) return undefined;
    const p = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return p;
  }
}
