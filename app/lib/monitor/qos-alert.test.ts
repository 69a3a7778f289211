import { describe, expect, it } from 'vitest';
import type { QosLevel } from '../../../protocol/qos.ts';
import { loadAlertSettings, QosAlerter, saveAlertSettings } from './qos-alert';

const levels = (entries: Record<string, QosLevel>) => new Map(Object.entries(entries));

describe('QosAlerter', () => {
  it('sounds when a station gets worse, never for the first level or a recovery', () => {
    const a = new QosAlerter();
    expect(a.observe(levels({ a: 'POOR', b: 'GOOD' }), 0)).toEqual([]);
    expect(a.observe(levels({ a: 'CRITICAL', b: 'POOR' }), 1000)).toEqual(['a', 'b']);
    expect(a.observe(levels({ a: 'GOOD', b: 'POOR' }), 2000)).toEqual([]);
  });

  it('sounds at most once per 10 s per station', () => {
    const a = new QosAlerter();
    a.observe(levels({ a: 'GOOD', b: 'GOOD' }), 0);
    expect(a.observe(levels({ a: 'POOR', b: 'GOOD' }), 1000)).toEqual(['a']);
    a.observe(levels({ a: 'GOOD', b: 'GOOD' }), 2000);
    // a again within 10 s: silent; b's first change sounds.
    expect(a.observe(levels({ a: 'CRITICAL', b: 'CRITICAL' }), 9000)).toEqual(['b']);
    a.observe(levels({ a: 'GOOD', b: 'GOOD' }), 10_000);
    expect(a.observe(levels({ a: 'POOR', b: 'GOOD' }), 11_000)).toEqual(['a']);
  });

  it('forgets a station that went', () => {
    const a = new QosAlerter();
    a.observe(levels({ a: 'GOOD' }), 0);
    a.observe(levels({}), 1000);
    expect(a.observe(levels({ a: 'CRITICAL' }), 2000)).toEqual([]);
  });
});

describe('alert settings', () => {
  it('are off by default, stored and read back, and survive garbage', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadAlertSettings(storage)).toEqual({ enabled: false, sound: 'beep' });
    saveAlertSettings(storage, { enabled: true, sound: 'chime' });
    expect(loadAlertSettings(storage)).toEqual({ enabled: true, sound: 'chime' });
    store.set('tapwire.qosAlert', '{"enabled":"yes","sound":"siren"}');
    expect(loadAlertSettings(storage)).toEqual({ enabled: false, sound: 'beep' });
    store.set('tapwire.qosAlert', 'not json');
    expect(loadAlertSettings(storage)).toEqual({ enabled: false, sound: 'beep' });
  });
});
