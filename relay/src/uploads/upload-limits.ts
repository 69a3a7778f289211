/**
 * The limits on uploads of offline recordings (protocol/upload.ts), as decisions and their
 * messages: how many bytes may wait unprocessed (per upload, per token), how old a capture
 * may be, and what an expired upload answers. The upload service applies them inside its
 * transactions; the HTTP status of each code is in protocol/errors.ts.
 */
import type { UploadErrorCode } from '../../../protocol/upload.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import { isoOf } from '../time/bucket-clock.ts';

export type UploadLimitsConfig = Pick<RelayConfig, 'uploadMaxPendingBytes' | 'uploadMaxPendingBytesPerToken' | 'uploadExpiryMs' | 'segmentMaxAgeMs'>;

const MIB = 1024 * 1024;
const HOUR_MS = 3600_000;

/** An upload error: one of the upload routes' codes. */
export function uploadError(code: UploadErrorCode, message: string): ApiError {
  return new ApiError(code, message);
}

/** What is waiting unprocessed when a chunk arrives, payload bytes. */
export interface PendingBytes {
  /** Of this upload. */
  upload: number;
  /** Of every upload of the same token (this one included). */
  client: number;
}

/**
 * The `upload_quota` refusal for a chunk adding `chunkBytes` of new packets, or null when it
 * fits both quotas. Packets already stored are not in `chunkBytes` (duplicates are free).
 */
export function quotaRefusal(limits: UploadLimitsConfig, uploadId: string, pending: PendingBytes, chunkBytes: number): ApiError | null {
  const adds = `this chunk adds ${mib(chunkBytes)} MiB of packets`;
  const remedy = `nothing of it was stored. Processing the parts already uploaded (POST /api/uploads/:upload_id/parts) frees their packets; send the chunk again after that`;
  if (pending.upload + chunkBytes > limits.uploadMaxPendingBytes) {
    return uploadError(
      'upload_quota',
      `${adds} to upload "${uploadId}", which holds ${mib(pending.upload)} MiB stored but not yet processed; an upload may hold at most ${mib(limits.uploadMaxPendingBytes)} MiB (TAPWIRE_UPLOAD_MAX_MB): ${remedy}`,
    );
  }
  if (pending.client + chunkBytes > limits.uploadMaxPendingBytesPerToken) {
    return uploadError(
      'upload_quota',
      `${adds}; the uploads of this token hold ${mib(pending.client)} MiB stored but not yet processed, and may hold at most ${mib(limits.uploadMaxPendingBytesPerToken)} MiB together (TAPWIRE_UPLOAD_TOKEN_MAX_MB): ${remedy}`,
    );
  }
  return null;
}

/**
 * The `upload_too_old` refusal for audio captured up to `captureEndMs`, or null when retention
 * (segmentMaxAgeMs) would keep it. `what` names the capture ("started_at 2026-...").
 */
export function tooOldRefusal(limits: UploadLimitsConfig, what: string, captureEndMs: number, nowMs: number, after: string): ApiError | null {
  if (captureEndMs >= nowMs - limits.segmentMaxAgeMs) return null;
  return uploadError(
    'upload_too_old',
    `${what} is ${hours(nowMs - captureEndMs)} h ago; the relay keeps audio for ${hours(limits.segmentMaxAgeMs)} h (TAPWIRE_SEGMENT_MAX_AGE_HOURS; raise it to keep older audio), so retention would delete it at once; ${after}`,
  );
}

/** The `upload_expired` refusal of an upload expired at `expiredAtMs`. */
export function expiredError(limits: UploadLimitsConfig, uploadId: string, expiredAtMs: number): ApiError {
  return uploadError(
    'upload_expired',
    `upload "${uploadId}" expired at ${isoOf(expiredAtMs)}: untouched (no create, chunk or part) for ${hours(limits.uploadExpiryMs)} h (TAPWIRE_UPLOAD_EXPIRY_HOURS), ` +
      `so the relay deleted the packets it had not processed; its processed parts are kept. Upload what is left under a new upload_id`,
  );
}

/** Bytes as MiB for a message. */
function mib(bytes: number): string {
  return short(bytes / MIB);
}

/** A duration as hours for a message. */
function hours(ms: number): string {
  return short(ms / HOUR_MS);
}

/** One decimal from 1 up, two significant digits below (small test limits stay readable). */
function short(v: number): string {
  return String(v >= 1 ? Number(v.toFixed(1)) : Number(v.toPrecision(2)));
}
