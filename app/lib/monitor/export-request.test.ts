import { describe, expect, it } from 'vitest';
import { EXPORT_MAX_RANGE_MS } from '../../../protocol/export.ts';
import { choiceProblem, expectedBytes, exportPath, fileNames, fromLocalInput, lastOf, refusalMessage, sidecarPath, toLocalInput, traceRange, type ExportChoice } from './export-request';

const T0 = Date.parse('2026-01-03T21:15:00.000Z');
const base: ExportChoice = { traceId: 'trace_abc', stationKey: 'St_1', tap: 'POST', format: 'webm', bitrate: 64_000, fromMs: T0, toMs: T0 + 60_000 };

describe('export requests', () => {
  it('builds the export path with the station, tap, format, range and (Opus only) bitrate; no token', () => {
    const q = new URL(`http://x${exportPath(base)}`).searchParams;
    expect(Object.fromEntries(q)).toEqual({ trace_id: 'trace_abc', station_key: 'St_1', from: '2026-01-03T21:15:00.000Z', to: '2026-01-03T21:16:00.000Z', tap: 'POST', format: 'webm', bitrate: '64000' });
    expect(new URL(`http://x${exportPath({ ...base, format: 'wav' })}`).searchParams.has('bitrate')).toBe(false);
    expect(exportPath(base)).not.toMatch(/token/);
  });

  it('leaves station_key out for a whole trace, in the export, the sidecar and the names', () => {
    const whole = { ...base, stationKey: null };
    expect(new URL(`http://x${exportPath(whole)}`).searchParams.has('station_key')).toBe(false);
    expect(sidecarPath(whole)).toBe('/api/audio/export/sidecar?trace_id=trace_abc&from=2026-01-03T21%3A15%3A00.000Z&to=2026-01-03T21%3A16%3A00.000Z');
    expect(fileNames(whole)).toEqual({ audio: 'trace_abc_mix_POST_2026-01-03T21-15-00.000Z.webm', sidecar: 'trace_abc_mix_POST_2026-01-03T21-15-00.000Z.json' });
  });

  it('refuses reversed, empty, too long ranges and a bitrate out of range, with a reason', () => {
    expect(choiceProblem(base)).toBeNull();
    expect(choiceProblem({ ...base, toMs: base.fromMs })).toMatch(/before the end/);
    expect(choiceProblem({ ...base, fromMs: NaN })).toMatch(/choose/);
    expect(choiceProblem({ ...base, toMs: base.fromMs + EXPORT_MAX_RANGE_MS + 1 })).toMatch(/at most 120 min/);
    expect(choiceProblem({ ...base, bitrate: 8000 })).toMatch(/bitrate/);
    expect(choiceProblem({ ...base, format: 'wav', bitrate: 8000 })).toBeNull();
  });

  it('expects the exact WAV size (the station\'s rate, 48 kHz for a trace) and about bitrate × length for Opus', () => {
    expect(expectedBytes({ ...base, format: 'wav' }, 16000)).toEqual({ bytes: 44 + 2 * 60 * 16000, exact: true });
    expect(expectedBytes({ ...base, format: 'wav', stationKey: null }, 16000)).toEqual({ bytes: 44 + 2 * 60 * 48000, exact: true });
    const opus = expectedBytes(base, 16000);
    expect(opus.exact).toBe(false);
    expect(opus.bytes).toBeGreaterThan(480_000);
    expect(opus.bytes).toBeLessThan(500_000);
  });

  it('prefills the trace\'s stored range and quick "last N" choices within it', () => {
    const r = traceRange('2026-01-03T21:15:00.000Z', '2026-01-03T21:20:00.000Z');
    expect(r).toEqual({ fromMs: T0, toMs: T0 + 305_000 });
    expect(traceRange(null, null)).toBeNull();
    expect(lastOf(r as never, 60_000)).toEqual({ fromMs: T0 + 245_000, toMs: T0 + 305_000 });
    expect(lastOf(r as never, 3600_000)).toEqual(r);
  });

  it('reads and writes datetime-local values in local time, to the second', () => {
    const ms = T0 + 7_000;
    expect(fromLocalInput(toLocalInput(ms))).toBe(ms);
    expect(fromLocalInput('yesterday')).toBeNaN();
  });

  it('names the missing scope on 403 and passes the relay\'s message on other refusals', () => {
    expect(refusalMessage(403, { success: false, error: { code: 'forbidden', message: 'x' } }, 'read:audio')).toMatch(/^this token lacks read:audio/);
    expect(refusalMessage(400, { success: false, error: { code: 'invalid_request', message: 'from must be before to' } }, 'read:audio')).toBe('400: from must be before to');
    expect(refusalMessage(502, null, 'read:snapshots')).toBe('the relay answered 502');
  });
});
