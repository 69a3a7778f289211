/**
 * The monitor's call-quality alert: a short tone when a station's level gets worse (GOOD to
 * POOR or CRITICAL, POOR to CRITICAL), at most once per `minGapMs` per station. Off by
 * default: a page that beeps unasked is a surprise, and browsers only let audio start after
 * a gesture anyway, so the toggle that turns it on is also what unlocks the AudioContext.
 * The choice is kept on the device (localStorage).
 */
import { qosSeverity, type QosLevel } from '../../../protocol/qos.ts';

export const ALERT_SOUNDS = ['beep', 'chime', 'low'] as const;
export type AlertSound = (typeof ALERT_SOUNDS)[number];

export interface AlertSettings {
  enabled: boolean;
  sound: AlertSound;
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = { enabled: false, sound: 'beep' };
const STORAGE_KEY = 'tapwire.qosAlert';
/** At most one tone per station this often, ms. */
export const ALERT_MIN_GAP_MS = 10_000;

/** The stored settings, or the defaults when none (or garbage) are stored. */
export function loadAlertSettings(storage: Pick<Storage, 'getItem'>): AlertSettings {
  try {
    const v: unknown = JSON.parse(storage.getItem(STORAGE_KEY) ?? 'null');
    if (typeof v !== 'object' || v === null) return { ...DEFAULT_ALERT_SETTINGS };
    const { enabled, sound } = v as Record<string, unknown>;
    return {
      enabled: enabled === true,
      sound: ALERT_SOUNDS.includes(sound as AlertSound) ? (sound as AlertSound) : DEFAULT_ALERT_SETTINGS.sound,
    };
  } catch {
    return { ...DEFAULT_ALERT_SETTINGS };
  }
}

export function saveAlertSettings(storage: Pick<Storage, 'setItem'>, s: AlertSettings): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(s));
}

/** Decides when to sound: on a change for the worse, rate-limited per station. */
export class QosAlerter {
  private readonly last = new Map<string, QosLevel>();
  private readonly soundedMs = new Map<string, number>();

  constructor(private readonly minGapMs = ALERT_MIN_GAP_MS) {}

  /**
   * Each station's level at one moment (stations absent are forgotten). Returns the stations
   * whose level got worse and that were not alerted for within `minGapMs`; a station's first
   * level is not a change.
   */
  observe(levels: ReadonlyMap<string, QosLevel>, nowMs: number): string[] {
    const alerts: string[] = [];
    for (const [key, level] of levels) {
      const before = this.last.get(key);
      this.last.set(key, level);
      if (before === undefined || qosSeverity(level) <= qosSeverity(before)) continue;
      if (nowMs - (this.soundedMs.get(key) ?? -Infinity) < this.minGapMs) continue;
      this.soundedMs.set(key, nowMs);
      alerts.push(key);
    }
    for (const key of this.last.keys()) {
      if (!levels.has(key)) {
        this.last.delete(key);
        this.soundedMs.delete(key);
      }
    }
    return alerts;
  }
}

/** Notes of each sound: [frequency Hz, start s, length s]. */
const NOTES: Record<AlertSound, [number, number, number][]> = {
  beep: [[880, 0, 0.18]],
  chime: [[660, 0, 0.15], [990, 0.16, 0.22]],
  low: [[330, 0, 0.3]],
};

/** Plays a sound (about a quarter of a second, -18 dBFS) on `ctx`. */
export function playAlertTone(ctx: AudioContext, sound: AlertSound): void {
  const t0 = ctx.currentTime + 0.01;
  for (const [hz, start, length] of NOTES[sound]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = hz;
    // A short attack and release: no click at either end.
    gain.gain.setValueAtTime(0, t0 + start);
    gain.gain.linearRampToValueAtTime(0.125, t0 + start + 0.01);
    gain.gain.setValueAtTime(0.125, t0 + start + length - 0.03);
    gain.gain.linearRampToValueAtTime(0, t0 + start + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0 + start);
    osc.stop(t0 + start + length + 0.01);
  }
}
