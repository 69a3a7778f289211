/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core (no browser is ever downloaded), with a fake microphone fed from a WAV
 * file. Each test gets its own profile directory, so IndexedDB and the service worker
 * persist across reloads within a test exactly as they would on a device.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.TAPWIRE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Flags known to work on these machines (no network beyond loopback). */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/**
 * For pages that make WebRTC connections to a relay on the same machine: Chromium offers no
 * loopback ICE candidates without the first flag, and with the second its host candidates
 * are real addresses rather than `.local` mDNS names (which the relay cannot resolve).
 */
export const WEBRTC_LOOPBACK_FLAGS: readonly string[] = ['--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** What the pages printed to the console (for failure messages). */
  console: string[];
  close(): Promise<void>;
}

/**
 * A fresh profile; `micWav` (16-bit PCM) becomes the default microphone; `extraArgs`
 * (WEBRTC_LOOPBACK_FLAGS, ...) are added to the flags; `executablePath` replaces Chromium
 * (a wrapper that runs it elsewhere, e.g. in a network namespace) and `env` its environment.
 */
export async function launchChromium(opts: { micWav?: string; extraArgs?: readonly string[]; executablePath?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'tapwire-chromium-'));
  const args = [...FLAGS, ...(opts.extraArgs ?? [])];
  if (opts.micWav !== undefined) {
    args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${opts.micWav}`);
  }
  const context = await chromium.launchPersistentContext(profile, { executablePath: opts.executablePath ?? CHROMIUM_PATH, headless: true, args, ...(opts.env === undefined ? {} : { env: opts.env }) });
  // tsx (esbuild, keepNames) wraps named functions inside code passed to page.evaluate in a
  // `__name(...)` helper that exists only in Node; give pages a no-op one.
  await context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  const lines: string[] = [];
  const watch = (p: Page): void => {
    p.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
    p.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    context,
    page,
    console: lines,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
