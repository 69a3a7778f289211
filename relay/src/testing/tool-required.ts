/**
 * Tests that need an external tool (Debian's Chromium; ffmpeg, sox and espeak-ng to compare
 * against) skip on a developer's machine where it is missing. In CI (CI=true, as `.ci/run`
 * runs) a green run must mean every test ran, so there a missing tool fails the test file
 * instead, with an error naming the tool.
 */

/** True when the run is CI's (CI=true). */
export const IN_CI = process.env.CI === 'true';

/**
 * For `describe.skipIf(...)` / `it.skipIf(...)`: true (skip) when the tool is missing,
 * false when it is present. Under CI=true a missing tool throws while the file is collected,
 * so the file fails, naming `tool` (a command, or a description such as a path).
 */
export function skipWithout(tool: string, present: boolean): boolean {
  if (present) return false;
  if (IN_CI) {
    throw new Error(
      `${tool} is missing, and CI=true: in CI the tests that need it must run, not skip. ` +
        `Install it (.ci/run does, with apt-get, when it runs as root), or run without CI=true to skip them.`,
    );
  }
  return true;
}
