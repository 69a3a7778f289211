/**
 * The relay started as deploy/systemd/tapwire.service starts it: its Environment= lines (the
 * port and data dir moved to free and temporary ones), stdout going to the journal
 * (JOURNAL_STREAM set, as systemd sets it). The admin token stays out of that output; the
 * relay trusts its proxy, so it asks for tokens; SIGTERM with a live station ends it with
 * exit 0 well within the unit's TimeoutStopSec.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sine } from '../audio/signals.ts';
import { encodeAudio, SimulatedStation } from '../sim/simulator.ts';
import { sleep, waitFor } from '../testing/harness.ts';
import { startRelayProcess, type RelayProcess } from '../testing/relay-process.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UNIT = readFileSync(join(ROOT, 'deploy/systemd/tapwire.service'), 'utf8');
const dirs: string[] = [];
const running: RelayProcess[] = [];
afterAll(() => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The unit's Environment= settings. */
function unitEnvironment(): Record<string, string> {
  const lines = UNIT.split('\n').filter((l) => l.startsWith('Environment='));
  return Object.fromEntries(lines.map((l) => l.slice('Environment='.length).split(/=(.*)/s).slice(0, 2) as [string, string]));
}

/** The relay as the unit runs it, on a free port with a temporary data dir; `journal`: stdout is the journal. */
function start(journal: boolean): { relay: RelayProcess; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'tapwire-service-'));
  dirs.push(dataDir);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...unitEnvironment(), TAPWIRE_PORT: '0', TAPWIRE_DATA_DIR: dataDir, TAPWIRE_MEDIA_WORKERS: '1' };
  if (journal) env.JOURNAL_STREAM = '8:12345';
  const relay = startRelayProcess({ env });
  running.push(relay);
  return { relay, dataDir };
}

describe('the relay as the systemd unit runs it', () => {
  it('reads the unit\'s settings: a trusted proxy on 127.0.0.1, data in /var/lib/tapwire', () => {
    expect(unitEnvironment()).toMatchObject({ TAPWIRE_HOST: '127.0.0.1', TAPWIRE_PORT: '8080', TAPWIRE_DATA_DIR: '/var/lib/tapwire', TAPWIRE_TRUSTED_PROXIES: '127.0.0.1' });
  });

  it('keeps the admin token out of the journal, asks for tokens, and stops on SIGTERM with exit 0 while a station streams', async () => {
    const { relay, dataDir } = start(true);
    const url = await relay.ready;
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    expect(token.length).toBeGreaterThan(10);
    // The banner's line after the URL says where the token is...
    await waitFor(() => (relay.output().includes(`Sign in with the admin token in ${join(dataDir, 'admin-token')}`) ? true : undefined), 5000, 'the sign-in line');
    // ...and nothing printed holds the token.
    expect(relay.output()).not.toContain(token);
    // Behind its proxy the relay is exposed, though bound to loopback.
    expect((await fetch(`${url}/measurements`)).status).toBe(401);

    const station = new SimulatedStation({
      url: `${url.replace('http', 'ws')}/ws/ingest`,
      audio: encodeAudio(sine(1000, -20, 1, 48000), 48000, 'pcm16'),
      stationKey: 'service',
      durationS: 30,
      headers: { authorization: `Bearer ${token}` },
    });
    await station.connect();
    const pump = setInterval(() => station.pump(performance.now()), 5);
    await sleep(2000);
    const t0 = performance.now();
    relay.child.kill('SIGTERM');
    const code = await relay.exited;
    const stopMs = performance.now() - t0;
    clearInterval(pump);
    expect(code).toBe(0);
    // The station was told: the relay closed its socket as going away (1001).
    await station.done;
    expect(station.closeCode).toBe(1001);
    expect(stopMs).toBeLessThan(Number(/^TimeoutStopSec=(\d+)s$/m.exec(UNIT)?.[1]) * 1000);
    console.log(`SIGTERM to exit with one live station: ${Math.round(stopMs)} ms`);
    // Everything after the signal went to the journal too: still no token.
    expect(relay.output()).not.toContain(token);
  });

  it('prints the sign-in link on a terminal or a pipe, where no journal keeps it', async () => {
    const { relay, dataDir } = start(false);
    await relay.ready;
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    await waitFor(() => (relay.output().includes(`?token=${token}`) ? true : undefined), 5000, 'the sign-in link');
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
  });
});
