/**
 * Where the relay's files are, run from its TypeScript sources (`relay/`, through tsx) or
 * from its compiled build (`dist/relay/`, bin/build-relay.mjs). Bundled code moves: a
 * module's `import.meta.url` is then a chunk's, so paths are resolved from two fixed points
 * found by walking up from this module: the project root (package.json) and, compiled, the
 * build's root (the directory holding BUILD_MARKER).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The file the build writes at its root (what it was built from, and when). */
export const BUILD_MARKER = 'build-info.json';

const here = fileURLToPath(import.meta.url);

/** True when this code runs from the compiled build, not from the .ts sources. */
export const COMPILED = !here.endsWith('.ts');

/** The nearest directory at or above `from` that holds `name`. */
function findUp(from: string, name: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, name))) return dir;
    if (dirname(dir) === dir) throw new Error(`no ${name} above ${from}: is this a Tapwire checkout?`);
  }
}

/** The repository's root: package.json, node_modules, build/ (the app). */
export const PROJECT_ROOT = findUp(dirname(here), 'package.json');

/** `relay/` from source; the build's root (`dist/relay/`) compiled. */
export const RELAY_ROOT = COMPILED ? findUp(dirname(here), BUILD_MARKER) : join(PROJECT_ROOT, 'relay');

/**
 * A file of the relay by its source path under relay/ (`src/media/worker.ts`): that file
 * from source, its compiled `.js` in the build. Other extensions (`.mjs`) are copied as is.
 */
export function relayFile(sourcePath: string): string {
  return join(RELAY_ROOT, COMPILED ? sourcePath.replace(/\.ts$/, '.js') : sourcePath);
}

export function relayFileUrl(sourcePath: string): URL {
  return pathToFileURL(relayFile(sourcePath));
}
