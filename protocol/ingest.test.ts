import { describe, expect, it } from 'vitest';
import {
  FRAME_MS_CHOICES,
  INGEST_CODECS,
  MAX_LABEL_LENGTH,
  OPUS_DECODE_RATES,
  parseClientMessage,
  parseStart,
  type Parsed,
  type StartMessage,
} from './ingest.ts';

/** A valid start as a client would send it; tests override one field at a time. */
const START = { type: 'start', codec: 'pcm16', sample_rate: 48000, channels: 1, frame_ms: 20 } as const;

const start = (over: Record<string, unknown> = {}): Parsed<StartMessage> => parseStart({ ...START, ...over });

/** The error of a failed parse (and fails the test if it parsed). */
function error<T>(r: Parsed<T>): { code: string; field?: string; message: string } {
  if (r.ok) throw new Error(`expected a parse error, got ${JSON.stringify(r.value)}`);
  return r;
}

function value<T>(r: Parsed<T>): T {
  if (!r.ok) throw new Error(`expected a parse, got ${r.code} (${r.field}): ${r.message}`);
  return r.value;
}

describe('parseClientMessage: framing', () => {
  it.each(['', '{', '{"type":"start",}', "{'type':'stop'}", 'stop', '{"type":"stop"} x'])('rejects bad JSON %j without a field', (text) => {
    const e = error(parseClientMessage(text));
    expect(e.code).toBe('bad_json');
    expect(e.field).toBeUndefined();
    expect(e.message).toMatch(/JSON object/);
  });

  it.each(['null', '42', '"stop"', 'true', '[]', '[{"type":"stop"}]'])('rejects the non-object JSON %s', (text) => {
    const e = error(parseClientMessage(text));
    expect(e.code).toBe('bad_json');
    expect(e.field).toBeUndefined();
  });

  it.each([
    ['{"type":"hello"}', '"hello"'],
    ['{"type":"START"}', '"START"'],
    ['{"type":7}', '7'],
    ['{}', 'null'],
    ['{"codec":"pcm16"}', 'null'],
  ])('rejects %s as unknown_type naming the field "type"', (text, shown) => {
    const e = error(parseClientMessage(text));
    expect(e.code).toBe('unknown_type');
    expect(e.field).toBe('type');
    expect(e.message).toContain(`unknown message type ${shown}`);
    expect(e.message).toContain('"start", "audio" or "stop"');
  });

  it('parses stop, dropping any other fields', () => {
    expect(parseClientMessage('{"type":"stop","extra":1}')).toEqual({ ok: true, value: { type: 'stop' } });
  });

  it('routes start through parseStart (same result, same errors)', () => {
    expect(value(parseClientMessage(JSON.stringify(START)))).toEqual({ ...START });
    const e = error(parseClientMessage(JSON.stringify({ ...START, channels: 2 })));
    expect(e).toEqual(error(start({ channels: 2 })));
    expect(e.field).toBe('channels');
  });
});

describe('parseStart', () => {
  it('accepts a full start and keeps exactly the known fields', () => {
    const v = value(start({ trace_id: 'call-2024.06:01_a', station_key: 'mic1', label: 'Front desk', extra: 'dropped' }));
    expect(v).toEqual({
      type: 'start',
      codec: 'pcm16',
      sample_rate: 48000,
      channels: 1,
      frame_ms: 20,
      trace_id: 'call-2024.06:01_a',
      station_key: 'mic1',
      label: 'Front desk',
    });
  });

  describe('codec', () => {
    it.each(INGEST_CODECS)('accepts %s', (codec) => {
      const rate = codec === 'g722' ? 16000 : 8000;
      expect(value(start({ codec, sample_rate: rate })).codec).toBe(codec);
    });

    it.each([8000, 48000])('refuses g722 at %i Hz: G.722 audio is 16 kHz', (rate) => {
      const e = error(start({ codec: 'g722', sample_rate: rate }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'sample_rate' });
      expect(e.message).toBe('g722 sample_rate must be 16000 (G.722 codes 16 kHz audio)');
    });

    it.each([undefined, null, 'g729', 'OPUS', 'pcm', '', 1, ['opus']])('rejects %j naming the field codec', (codec) => {
      const e = error(start({ codec }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'codec' });
      expect(e.message).toBe('codec must be one of opus, pcm16, pcmu, pcma, g722');
    });
  });

  describe('sample_rate', () => {
    it.each([8000, 8050, 11000, 16000, 22050, 32000, 44100, 47950, 48000])('accepts %i Hz for pcm16', (rate) => {
      expect(value(start({ sample_rate: rate })).sample_rate).toBe(rate);
    });

    it.each([
      ['just below the minimum', 7950],
      ['far below', 0],
      ['negative', -48000],
      ['just above the maximum', 48050],
      ['above', 96000],
      ['not a multiple of 50', 11025],
      ['not a multiple of 50 (one off)', 44101],
      ['fractional', 16000.5],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a string', '48000'],
      ['missing', undefined],
      ['null', null],
    ])('rejects %s (%j) naming the field sample_rate', (_what, rate) => {
      const e = error(start({ sample_rate: rate }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'sample_rate' });
      expect(e.message).toBe('sample_rate must be an integer from 8000 to 48000 Hz, a multiple of 50');
    });

    it.each(OPUS_DECODE_RATES)('accepts Opus at %i Hz', (rate) => {
      expect(value(start({ codec: 'opus', sample_rate: rate })).sample_rate).toBe(rate);
    });

    it.each([44100, 32000, 22050, 11000, 8050])('rejects Opus at %i Hz (valid for PCM) with the Opus rates', (rate) => {
      expect(start({ codec: 'pcm16', sample_rate: rate }).ok).toBe(true);
      const e = error(start({ codec: 'opus', sample_rate: rate }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'sample_rate' });
      expect(e.message).toBe('opus sample_rate must be one of 8000, 12000, 16000, 24000, 48000');
    });
  });

  describe('channels', () => {
    it.each([2, 0, '1', true, null, undefined, 1.5])('rejects %j naming the field channels', (channels) => {
      const e = error(start({ channels }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'channels' });
      expect(e.message).toContain('channels must be 1');
    });
  });

  describe('frame_ms', () => {
    it('defaults to 20 when absent', () => {
      const { frame_ms: _omitted, ...rest } = START;
      expect(value(parseStart({ ...rest })).frame_ms).toBe(20);
    });

    it.each(FRAME_MS_CHOICES)('accepts %i', (ms) => {
      expect(value(start({ frame_ms: ms })).frame_ms).toBe(ms);
    });

    it.each([null, 0, 5, 15, 30, 80, 120, 2.5, '20', Number.NaN])('rejects %j naming the field frame_ms', (ms) => {
      const e = error(start({ frame_ms: ms }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'frame_ms' });
      expect(e.message).toBe('frame_ms must be one of 10, 20, 40, 60');
    });
  });

  describe.each(['trace_id', 'station_key'] as const)('%s', (field) => {
    it.each(['a', '0', 'A'.repeat(64), 'call-1', 'x_y.z:w-1', '2024-06-01T12:00:00'])('accepts %j', (id) => {
      expect(value(start({ [field]: id }))[field]).toBe(id);
    });

    it.each([undefined, null])('treats %j as absent', (id) => {
      const v = value(start({ [field]: id }));
      expect(field in v).toBe(false);
    });

    it.each([
      ['empty', ''],
      ['65 characters', 'A'.repeat(65)],
      ['a leading underscore', '_a'],
      ['a leading dash', '-a'],
      ['a leading dot', '.a'],
      ['a path', 'a/b'],
      ['a parent directory', '..'],
      ['a space', 'a b'],
      ['non-ASCII', 'café'],
      ['a trailing newline', 'a\n'],
      ['a number', 42],
      ['an object', { id: 'a' }],
    ])('rejects %s naming the field', (_what, id) => {
      const e = error(start({ [field]: id }));
      expect(e).toMatchObject({ code: 'bad_start', field });
      expect(e.message).toMatch(new RegExp(`^${field} must be 1-64 characters`));
    });
  });

  describe('label', () => {
    it.each(['', 'Front desk', 'Mikrofon 1 — Küche', 'x'.repeat(MAX_LABEL_LENGTH)])('accepts %j', (label) => {
      expect(value(start({ label })).label).toBe(label);
    });

    it('treats null as absent', () => {
      expect('label' in value(start({ label: null }))).toBe(false);
    });

    it.each([
      ['121 characters', 'x'.repeat(MAX_LABEL_LENGTH + 1)],
      ['a number', 7],
      ['an array', ['a']],
    ])('rejects %s naming the field label', (_what, label) => {
      const e = error(start({ label }));
      expect(e).toMatchObject({ code: 'bad_start', field: 'label' });
      expect(e.message).toBe('label must be a string of at most 120 characters');
    });
  });

  it('reports the first wrong field in the order codec, sample_rate, channels, frame_ms, ids, label', () => {
    const all = { codec: 'x', sample_rate: 1, channels: 2, frame_ms: 3, trace_id: '_', station_key: '_', label: 5 };
    const order = ['codec', 'sample_rate', 'channels', 'frame_ms', 'trace_id', 'station_key', 'label'];
    const fixed: Record<string, unknown> = { trace_id: 't', station_key: 's', label: 'l' };
    for (let i = 0; i < order.length; i++) {
      const msg: Record<string, unknown> = { ...START, ...fixed, ...all };
      for (const f of order.slice(0, i)) msg[f] = f in fixed ? fixed[f] : START[f as keyof typeof START];
      expect(error(parseStart(msg)).field).toBe(order[i]);
    }
  });
});

describe('parseClientMessage: audio (seed 001)', () => {
  const audio = (over: Record<string, unknown>): Parsed<unknown> => parseClientMessage(JSON.stringify({ type: 'audio', ...over }));
  // Two PCM16LE samples, 1 and -32768, as in frame.test.ts.
  const TWO_SAMPLES = Buffer.from([0x01, 0x00, 0x00, 0x80]).toString('base64');

  it.each([
    ['no padding (3 bytes)', 'AAEC'],
    ['one pad character (2 bytes)', 'AAE='],
    ['two pad characters (1 byte)', 'AA=='],
    ['+ and /', '+/+/'],
    ['two samples', TWO_SAMPLES],
    ['a 20 ms frame at 48 kHz', Buffer.alloc(1920, 7).toString('base64')],
  ])('accepts base64 with %s', (_what, data) => {
    expect(value(audio({ data }))).toEqual({ type: 'audio', data });
  });

  it('keeps the data exactly, so it decodes to the bytes that were sent', () => {
    const v = value(audio({ data: TWO_SAMPLES })) as { data: string };
    expect([...Buffer.from(v.data, 'base64')]).toEqual([0x01, 0x00, 0x00, 0x80]);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['a number', 1234],
    ['an array of bytes', [1, 0, 0, 128]],
    ['base64url characters', 'AB-_'],
    ['a space', 'AA AA'],
    ['a line break (MIME style)', 'AAAA\nAAAA'],
    ['a non-ASCII letter', 'AAAé'],
    ['length 1', 'A'],
    ['length 3 (padding omitted)', 'AAE'],
    ['length 5', 'AAAAA'],
    ['length 6 (padding omitted)', 'AAAAAA'],
    ['three pad characters', 'A==='],
    ['padding in the middle', 'AA==AAAA'],
    ['padding too long for the group', 'AAA=='],
  ])('rejects data that is %s naming the field data', (_what, data) => {
    const e = error(audio({ data }));
    expect(e).toMatchObject({ code: 'bad_base64', field: 'data' });
    expect(e.message).toContain('standard base64');
  });

  it.each(['mic1', 'A'.repeat(64), 'room.2:left-b_c'])('accepts source %j', (source) => {
    expect(value(audio({ data: 'AAAA', source }))).toEqual({ type: 'audio', data: 'AAAA', source });
  });

  it('treats a null source as absent', () => {
    expect(value(audio({ data: 'AAAA', source: null }))).toEqual({ type: 'audio', data: 'AAAA' });
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'A'.repeat(65)],
    ['a leading underscore', '_mic'],
    ['a path', 'mics/1'],
    ['a number', 1],
  ])('rejects a source that is %s naming the field source', (_what, source) => {
    const e = error(audio({ data: 'AAAA', source }));
    expect(e).toMatchObject({ code: 'bad_source', field: 'source' });
    expect(e.message).toMatch(/^audio\.source must be 1-64 characters/);
  });

  it('checks data before source', () => {
    expect(error(audio({ data: 'A', source: '_' })).field).toBe('data');
  });
});
