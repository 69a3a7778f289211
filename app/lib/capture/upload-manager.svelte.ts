/**
 * Runs uploads in the background: on app start, when the network or the relay comes back,
 * every little while, and when a capture asks. One pass at a time, in this tab and across
 * the device's tabs (a Web Lock): a pass that waited for another tab's finds the relay's
 * state moved on and sends only what is still missing. A session that fails
 * keeps its error for the recordings page and is tried again on the next pass, unless the
 * relay's refusal is final (UploadError.final: expired, too old, conflicting, over quota):
 * then it is `stopped` and not tried again until the app is loaded again.
 */
import { session } from '$lib/session.svelte';
import { DELIVERY } from './recording-store';
import { isOrphaned, recordingStore, UPLOAD_LOCK_NAME } from './recordings';
import { UploadError, Uploader } from './uploader';

export interface SessionUploadStatus {
  /** `stopped`: a final refusal (UploadError.final); `error` says why. */
  state: 'idle' | 'uploading' | 'done' | 'error' | 'stopped';
  sent: number;
  total: number;
  error: string | null;
}

const PASS_INTERVAL_MS = 10_000;

class UploadManager {
  /** Per session id. */
  status = $state<Record<string, SessionUploadStatus>>({});
  /** Bumped after every pass, so pages re-read the store. */
  passes = $state(0);
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  /** Starts the background passes (idempotent). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.kick(), PASS_INTERVAL_MS);
    window.addEventListener('online', () => void this.kick());
    void this.kick();
  }

  /** Runs a pass now (or right after the one in progress). */
  kick(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
      this.passes++;
      if (this.again) {
        this.again = false;
        void this.kick();
      }
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (!('locks' in navigator)) return this.passHoldingLock();
    await navigator.locks.request(UPLOAD_LOCK_NAME, () => this.passHoldingLock());
  }

  private async passHoldingLock(): Promise<void> {
    const store = await recordingStore();
    const uploader = new Uploader(store, (input, init) => session.fetch(input, init), (p) => {
      this.status[p.sessionId] = { state: 'uploading', sent: p.sent, total: p.total, error: null };
    });
    for (const s of await store.listSessions()) {
      // A session left "recording" by a tab that is gone (reloaded, crashed): it has ended.
      if (s.state === 'recording' && (await isOrphaned(s.id))) {
        await store.updateSession(s.id, (rec) => {
          rec.state = 'ended';
          rec.endedAt = rec.startedAt === null ? rec.createdAt : rec.startedAt + rec.packets * rec.frameMs;
        });
        s.state = 'ended';
      }
      if (this.status[s.id]?.state === 'stopped') continue;
      if ((await uploader.closedRuns(s)).length === 0) continue;
      try {
        const sent = await uploader.uploadSession(s.id);
        const left = await store.pendingCount(s.id);
        this.status[s.id] = { state: left === 0 ? 'done' : 'idle', sent, total: sent, error: null };
      } catch (err) {
        const final = err instanceof UploadError && err.final;
        const message = err instanceof UploadError && (err.status === 401 || err.status === 403)
          ? `the relay wants a token with the ingest scope (${err.message}); open the sign-in link the relay printed`
          : final
            ? `the relay refused this upload (${(err as UploadError).code}), not retried: ${(err as Error).message}`
            : (err as Error).message;
        this.status[s.id] = { state: final ? 'stopped' : 'error', sent: 0, total: 0, error: message };
        await store.updateSession(s.id, (rec) => {
          rec.upload.error = message;
        });
        // Unreachable: no point trying the other sessions in this pass.
        if (err instanceof UploadError && err.status === 0) break;
      }
    }
  }
}

export const uploads = new UploadManager();
