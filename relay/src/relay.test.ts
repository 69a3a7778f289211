/** The relay's lifecycle: a start that fails leaves nothing running behind it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from './config.ts';
import { Relay } from './relay.ts';
import { startTestRelay, type TestRelay } from './testing/harness.ts';

let first: TestRelay;
const dirs: string[] = [];

afterAll(async () => {
  await first?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Relay.start', () => {
  it('rejects with EADDRINUSE when the port is taken, closing its workers and store', async () => {
    first = await startTestRelay();
    const port = Number(new URL(first.httpUrl).port);
    const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-busy-'));
    dirs.push(dataDir);
    await expect(Relay.start({ ...defaultConfig(), port, dataDir, logLevel: 'silent', mediaWorkers: 1 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The store was closed: a second relay on the same data dir and a free port starts cleanly.
    const second = await Relay.start({ ...defaultConfig(), port: 0, dataDir, logLevel: 'silent', mediaWorkers: 1 });
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
    await second.stop();
  });
});
