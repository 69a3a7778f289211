/**
 * Downloads an export with the session's bearer token. A plain link cannot send the token,
 * and the token must not go in a URL (it would land in history, logs and Referer headers),
 * so the app fetches the file itself and saves it:
 *
 * - where the File System Access API is (Chromium on a secure origin), the operator picks
 *   the file first (the picker needs the click's user activation) and the response streams
 *   into it as it arrives: a 2-hour WAV never sits in memory;
 * - elsewhere, the response is gathered into a Blob and saved through an object URL and an
 *   `<a download>` click (the whole file is held in memory until it is saved).
 *
 * Progress is reported as bytes arrive; an AbortSignal cancels the request and the save (a
 * half-written file is discarded by the writable's abort).
 */
import { session } from '$lib/session.svelte';
import { refusalMessage } from './export-request';

export interface DownloadOptions {
  path: string;
  /** Suggested (and, in the fallback, used) file name. */
  fileName: string;
  /** The scope the route needs, for a 403's message. */
  scope: 'read:audio' | 'read:snapshots';
  signal: AbortSignal;
  onProgress?: (bytes: number) => void;
  /** Whether to ask for a file to stream into (when the browser can); default true. */
  streamToDisk?: boolean;
}

/** Progress is reported at most this often, ms. */
const PROGRESS_INTERVAL_MS = 100;

/** A refusal or failure whose message is meant for the operator. */
export class DownloadError extends Error {}

interface SaveFilePicker {
  (options: { suggestedName: string }): Promise<{ createWritable(): Promise<WritableStream<Uint8Array> & { abort(reason?: unknown): Promise<void> }> }>;
}

/** The browser's showSaveFilePicker, where it is. */
function savePicker(): SaveFilePicker | null {
  const f = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker;
  return typeof f === 'function' ? f.bind(globalThis) : null;
}

/** True where the response can stream to a file the operator picks. */
export function canStreamToDisk(): boolean {
  return savePicker() !== null;
}

/** Fetches and saves; resolves with the bytes saved. Rejects with DownloadError, or an AbortError when cancelled. */
export async function download(o: DownloadOptions): Promise<number> {
  const picker = o.streamToDisk === false ? null : savePicker();
  // Picked before the request: the click's user activation does not outlive an await on the network.
  const writable = picker === null ? null : await (await picker({ suggestedName: o.fileName })).createWritable();
  try {
    const res = await session.fetch(o.path, { signal: o.signal });
    if (!res.ok || res.body === null) {
      const body = await res.json().catch(() => null);
      throw new DownloadError(refusalMessage(res.status, body, o.scope));
    }
    let bytes = 0;
    let reportedAt = 0;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          // A loopback or LAN download brings thousands of chunks a second: a re-render for
          // each would keep the page's main thread busy until the end.
          const now = performance.now();
          if (now - reportedAt >= PROGRESS_INTERVAL_MS) {
            reportedAt = now;
            o.onProgress?.(bytes);
          }
          controller.enqueue(chunk);
        },
        flush() {
          o.onProgress?.(bytes);
        },
      }),
    );
    if (writable !== null) {
      await counted.pipeTo(writable, { signal: o.signal });
      return bytes;
    }
    const blob = await new Response(counted).blob();
    saveBlob(blob, o.fileName);
    return bytes;
  } catch (err) {
    await writable?.abort(err).catch(() => undefined);
    throw err;
  }
}

/** Saves a Blob under a name: an object URL clicked as a download, revoked once the browser has it. */
function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
