/**
 * `npm start`: builds the PWA if the build is missing or older than its sources, then
 * starts the relay (which serves the build at `/`).
 */
import { appBuildState, BUILD_DIR, ensureAppBuilt } from '../src/app-build.ts';
import { appBuildError, checkNode, exitWith, HELP, parseStartArgs, StartupError } from '../src/startup-checks.ts';

// Help, arguments and the Node version are checked before the build (relay.ts checks the rest).
try {
  if (parseStartArgs(process.argv.slice(2)).help) {
    console.log(HELP);
    process.exit(0);
  }
  checkNode(process.versions.node);
} catch (err) {
  if (err instanceof StartupError) exitWith(err);
  throw err;
}

const state = appBuildState();
try {
  ensureAppBuilt();
} catch (err) {
  if (state === 'fresh') throw err;
  const reason = (err as Error).message;
  const fatal = appBuildError(state, BUILD_DIR, reason);
  if (fatal !== null) exitWith(fatal);
  console.warn(`tapwire: warning: ${reason} (its output is above): serving the previous build of the app, older than its sources.`);
}

await import('./relay.ts');
