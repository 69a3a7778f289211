/**
 * Starting the players' AudioContext. Browsers keep a context suspended until the page has
 * had a user gesture (the autoplay policy), and `resume()` without one may neither resolve
 * nor reject until a click comes. A player therefore waits for it only briefly, and says it
 * needs a gesture when the context is not running; the page then shows "Start audio".
 */

/** How long a player waits for resume() without a user gesture, ms. */
export const RESUME_WAIT_MS = 300;

/** ctx.resume(), but no longer than `ms`; true when the context is running afterwards. */
export async function resumeWithin(ctx: AudioContext, ms = RESUME_WAIT_MS): Promise<boolean> {
  await Promise.race([ctx.resume().catch(() => undefined), new Promise((r) => setTimeout(r, ms))]);
  return ctx.state === 'running';
}
