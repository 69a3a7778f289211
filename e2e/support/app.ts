/**
 * What most browser tests start from: the built app on a real test relay (snapshot limit
 * off, so tests may poll), Chromium with a fake microphone, and the page signed in.
 */
import type { Page } from 'playwright-core';
import { BUILD_DIR, ensureAppBuilt } from '../../relay/src/app-build.ts';
import { startTestRelay, type TestRelay } from '../../relay/src/testing/harness.ts';
import { launchChromium, type Browser } from './chromium.ts';
import { RelayApi } from './relay-api.ts';

export interface AppUnderTest {
  t: TestRelay;
  browser: Browser;
  api: RelayApi;
  close(): Promise<void>;
}

export async function startAppUnderTest(micWav: string, extraArgs: readonly string[] = []): Promise<AppUnderTest> {
  ensureAppBuilt();
  const t = await startTestRelay({ appDir: BUILD_DIR, snapshotMinIntervalMs: 0 });
  const browser = await launchChromium({ micWav, extraArgs });
  return {
    t,
    browser,
    api: new RelayApi(t.httpUrl, t.relay.adminToken as string),
    async close() {
      await browser.close();
      await t.close();
    },
  };
}

/** Opens the relay's sign-in link and waits until the app says it is signed in. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/?token=${token}`);
  await page.getByTestId('session').getByText('signed in').waitFor();
}

/** Follows a link of the main navigation. */
export async function navigate(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
}
