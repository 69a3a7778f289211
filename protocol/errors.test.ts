import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS, ErrorBody, errorStatus, isErrorCode } from './errors.ts';
import { UPLOAD_ERROR_CODES } from './upload.ts';

describe('the error table', () => {
  it('gives every code one 4xx or 5xx status, and spells codes in snake_case', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(30);
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(errorStatus(code) >= 400 && errorStatus(code) <= 599, code).toBe(true);
    }
  });

  it('keeps seed 000 §7: 400 invalid request or unknown knob, 404 not found, 409 bucket mismatch, 429 rate limit, 500 internal', () => {
    expect(ERROR_STATUS).toMatchObject({
      invalid_request: 400,
      unknown_knob: 400,
      trace_not_found: 404,
      station_not_found: 404,
      bucket_not_found: 404,
      audio_not_found: 404,
      bucket_mismatch: 409,
      rate_limited: 429,
      internal: 500,
    });
  });

  it('holds the codes the HTTP server and access control send, with the statuses clients see', () => {
    expect(ERROR_STATUS).toMatchObject({
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      relay_busy: 503,
      too_many_connections: 429,
      upgrade_required: 426,
      invalid_request: 400,
      uri_too_long: 414,
      request_timeout: 408,
      headers_too_large: 431,
      body_too_large: 413,
      internal: 500,
    });
  });

  it('holds every upload code with its status (once UPLOAD_ERROR_STATUS)', () => {
    for (const code of UPLOAD_ERROR_CODES) expect(isErrorCode(code), code).toBe(true);
    expect(ERROR_STATUS).toMatchObject({
      upload_not_found: 404,
      upload_conflict: 409,
      bad_chunk: 400,
      body_too_large: 413,
      part_overlap: 409,
      incomplete: 409,
      processing_failed: 503,
      upload_quota: 413,
      upload_expired: 410,
      upload_too_old: 400,
      chunk_conflict: 409,
    });
  });

  it('describes the envelope with every code', () => {
    expect(ErrorBody.properties.error.properties.code.enum).toEqual(ERROR_CODES);
    expect(isErrorCode('no_such_code')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
