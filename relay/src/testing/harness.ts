/**
 * Test helpers: a real relay on 127.0.0.1 with its own temporary data dir, and small
 * waits. Tests talk to it over real sockets; nothing of ours is mocked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type RelayConfig } from '../config.ts';
import { Relay } from '../relay.ts';

export interface TestRelay {
  /** The running relay (a new one after `restart()`). */
  relay: Relay;
  httpUrl: string;
  wsUrl: string;
  dataDir: string;
  /** Stops the relay, keeping its data dir and port (the relay is down until `restart()`); safe to call twice. */
  stop(): Promise<void>;
  /** Starts a relay again on the same port and data dir, as a restarted relay would be. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestRelay(overrides: Partial<RelayConfig> = {}): Promise<TestRelay> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-test-'));
  const config = { ...defaultConfig(), port: 0, dataDir, logLevel: 'silent' as const, mediaWorkers: 1, ...overrides };
  let relay = await Relay.start(config);
  let running = true;
  const port = Number(new URL(relay.url).port);
  const t: TestRelay = {
    relay,
    httpUrl: relay.url,
    wsUrl: `${relay.url.replace('http', 'ws')}/ws/ingest`,
    dataDir,
    async stop() {
      if (!running) return;
      running = false;
      await relay.stop();
    },
    async restart() {
      await t.stop();
      relay = await Relay.start({ ...config, port });
      running = true;
      t.relay = relay;
    },
    async close() {
      await t.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits until the wall clock is `ms` past the start of a 5 s bucket (so a test can plan around boundaries). */
export async function alignToBucket(offsetMs: number, bucketMs = 5000): Promise<void> {
  const into = Date.now() % bucketMs;
  await sleep((offsetMs - into + bucketMs) % bucketMs);
}
