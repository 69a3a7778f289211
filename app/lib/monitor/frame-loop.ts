/**
 * One requestAnimationFrame loop for every meter on the page: it runs while something is
 * subscribed, and calls each subscriber with the frame's timestamp (ms).
 */
type FrameFn = (nowMs: number) => void;

const subscribers = new Set<FrameFn>();
let handle: number | null = null;

function run(nowMs: number): void {
  for (const fn of subscribers) {
    try {
      fn(nowMs);
    } catch (err) {
      // One broken meter must not stop the others.
      console.error('monitor frame', err);
    }
  }
  handle = subscribers.size > 0 ? requestAnimationFrame(run) : null;
}

/** Calls `fn` every frame until the returned function is called. */
export function onFrame(fn: FrameFn): () => void {
  subscribers.add(fn);
  handle ??= requestAnimationFrame(run);
  return () => {
    subscribers.delete(fn);
    if (subscribers.size === 0 && handle !== null) {
      cancelAnimationFrame(handle);
      handle = null;
    }
  };
}
