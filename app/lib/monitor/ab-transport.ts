/**
 * The A/B player's transport as arithmetic over the AudioContext's clock: where playback is
 * (s into the bucket) at any context time, from when the sources were started and from which
 * offset. Both sides play from one transport, so switching sides never moves the position.
 * No Web Audio here, so it is tested in Node.
 */
export class AbTransport {
  #playing = false;
  /** Context time the sources start (or started) at, s. */
  #startCtxS = 0;
  /** Offset into the bucket the sources start from, s; while paused, the position. */
  #offsetS = 0;
  #loop: boolean;

  /** `durationS`: the length both sides play, s (> 0). */
  constructor(
    readonly durationS: number,
    loop = true,
  ) {
    if (!(durationS > 0) || !Number.isFinite(durationS)) throw new TypeError(`durationS must be a positive number of seconds, got ${durationS}`);
    this.#loop = loop;
  }

  get playing(): boolean {
    return this.#playing;
  }

  get loop(): boolean {
    return this.#loop;
  }

  /** Position at context time `nowCtxS`, s in [0, durationS]; before the start, the start offset. */
  positionS(nowCtxS: number): number {
    if (!this.#playing) return this.#offsetS;
    const p = this.#offsetS + Math.max(0, nowCtxS - this.#startCtxS);
    return this.#loop ? p % this.durationS : Math.min(p, this.durationS);
  }

  /** True once a play without loop has reached the end of the bucket. */
  ended(nowCtxS: number): boolean {
    return !this.#loop && this.positionS(nowCtxS) >= this.durationS;
  }

  /**
   * Plays from the current position (from the start when it is at the end), the sources
   * starting at context time `whenCtxS`. Returns the offset to start them from, s.
   */
  start(whenCtxS: number): number {
    if (this.#offsetS >= this.durationS) this.#offsetS = 0;
    this.#playing = true;
    this.#startCtxS = whenCtxS;
    return this.#offsetS;
  }

  /** Stops at the position reached at `nowCtxS`. */
  pause(nowCtxS: number): void {
    if (!this.#playing) return;
    this.#offsetS = this.positionS(nowCtxS);
    this.#playing = false;
  }

  /**
   * Moves to `offsetS` (clamped into the bucket); while playing, the restarted sources start
   * at `whenCtxS`. Returns the offset they start from.
   */
  seek(offsetS: number, whenCtxS: number): number {
    if (!Number.isFinite(offsetS)) throw new TypeError(`offsetS must be a number of seconds, got ${offsetS}`);
    this.#offsetS = Math.min(Math.max(0, offsetS), this.durationS);
    if (this.#loop && this.#offsetS >= this.durationS) this.#offsetS = 0;
    this.#startCtxS = whenCtxS;
    return this.#offsetS;
  }

  /** Turns looping on or off at `nowCtxS` without moving the position. */
  setLoop(loop: boolean, nowCtxS: number): void {
    if (loop === this.#loop) return;
    this.#offsetS = this.positionS(nowCtxS);
    this.#startCtxS = nowCtxS;
    this.#loop = loop;
  }
}
