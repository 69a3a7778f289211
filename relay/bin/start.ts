/**
 * `npm start`: builds the PWA if the build is missing or older than its sources, then
 * starts the relay (which serves the build at `/`).
 */
import { ensureAppBuilt } from '../src/app-build.ts';

try {
  ensureAppBuilt();
} catch (err) {
  console.error(`${(err as Error).message}; see above.`);
  process.exit(1);
}

await import('./relay.ts');
