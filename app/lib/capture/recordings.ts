/**
 * The device's one RecordingStore, opened on first use, and the Web Locks shared by its
 * tabs: one marks a session as being captured by a live tab (so a session left `recording`
 * by a tab that crashed or was reloaded can be told apart from one still capturing in
 * another tab), one lets a single tab at a time upload.
 */
import { RecordingStore } from './recording-store';

let opening: Promise<RecordingStore> | null = null;

export function recordingStore(): Promise<RecordingStore> {
  opening ??= RecordingStore.open();
  return opening;
}

/** Held by the tab whose upload pass is running: two tabs never send the same chunk at once. */
export const UPLOAD_LOCK_NAME = 'tapwire-uploads';

export function captureLockName(sessionId: string): string {
  return `tapwire-capture-${sessionId}`;
}

/** True when no tab holds the session's capture lock. */
export async function isOrphaned(sessionId: string): Promise<boolean> {
  if (!('locks' in navigator)) return true;
  return navigator.locks.request(captureLockName(sessionId), { ifAvailable: true }, (lock) => lock !== null);
}
