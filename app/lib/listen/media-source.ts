/**
 * Which Media Source Extensions flavour this browser has for the MSE player: the standard
 * `MediaSource`, or Safari's `ManagedMediaSource` (iOS 17.1+, where plain MediaSource is
 * missing on iPhone) which needs `disableRemotePlayback` on the element. Feature detection
 * over a scope object, so it reads the same for `window` and for a test's plain object.
 */

/** The constructor of either flavour, as the player uses it. */
export type MediaSourceCtor = { new (): MediaSource; isTypeSupported(type: string): boolean };

export type MediaSourceChoice = { ok: true; ctor: MediaSourceCtor; managed: boolean } | { ok: false; message: string };

export function chooseMediaSource(scope: object, mime: string): MediaSourceChoice {
  const s = scope as { MediaSource?: MediaSourceCtor; ManagedMediaSource?: MediaSourceCtor };
  const candidates: { ctor: MediaSourceCtor | undefined; managed: boolean }[] = [
    { ctor: s.MediaSource, managed: false },
    { ctor: s.ManagedMediaSource, managed: true },
  ];
  let present = false;
  for (const c of candidates) {
    if (typeof c.ctor !== 'function') continue;
    present = true;
    if (c.ctor.isTypeSupported(mime)) return { ok: true, ctor: c.ctor, managed: c.managed };
  }
  return {
    ok: false,
    message: present
      ? `this browser's Media Source Extensions cannot play ${mime}; the low-latency mode decodes Opus itself`
      : 'this browser has no Media Source Extensions (neither MediaSource nor ManagedMediaSource); the low-latency mode does without',
  };
}
