/**
 * `npm start`: builds the PWA if the build is missing or older than its sources, then
 * starts the relay (which serves the build at `/`).
 */
import { ensureAppBuilt } from '../src/app-build.ts';
import { checkNode, exitWith, HELP, parseStartArgs, StartupError } from '../src/startup-checks.ts';

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

try {
  ensureAppBuilt();
} catch (err) {
  console.error(`${(err as Error).message}; see above.`);
  process.exit(1);
}

await import('./relay.ts');
