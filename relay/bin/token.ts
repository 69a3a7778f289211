/**
 * Token management on the relay's store (works whether or not the relay is running):
 *
 *   npm run token -- create --scopes read:snapshots,read:audio [--label NAME]
 *   npm run token -- revoke <token id | token>
 *   npm run token -- list
 *
 * The data dir is TAPWIRE_DATA_DIR (default ./data). A created token is printed once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseScopes, SCOPES } from '../src/auth/scopes.ts';
import { TokenStore } from '../src/auth/token-store.ts';
import { configFromEnv } from '../src/config.ts';
import { EXIT } from '../src/startup-checks.ts';
import { Store } from '../src/store/store.ts';

const usage = `usage: npm run token -- create --scopes ${SCOPES.join(',')} [--label NAME]
       npm run token -- revoke <token id | token>
       npm run token -- list
The data directory is TAPWIRE_DATA_DIR (default ./data). Exit codes: 0 done; 64 bad arguments; 2 refused (no such token).`;

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({ allowPositionals: true, options: { scopes: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
}
try {
  parsed = parseOptions();
} catch (err) {
  // An unknown option or one without its value: what was wrong, then how it is used.
  console.error(`tapwire: ${(err as Error).message}\n${usage}`);
  process.exit(EXIT.usage);
}
const { positionals, values } = parsed;
if (values.help === true) {
  console.log(usage);
  process.exit(0);
}
const [command, arg] = positionals;

const { dataDir } = configFromEnv();
mkdirSync(dataDir, { recursive: true });
const store = new Store(join(dataDir, 'tapwire.sqlite'));
const tokens = new TokenStore(store.db);
let status = 0;
try {
  if (command === 'create') {
    if (values.scopes === undefined) throw new TypeError(`--scopes is required\n${usage}`);
    const { id, token } = tokens.create(parseScopes(values.scopes), values.label ?? null);
    console.log(`created ${id} with scopes ${values.scopes}; the token (shown once):\n${token}`);
  } else if (command === 'revoke' && arg !== undefined) {
    if (tokens.revoke(arg)) console.log(`revoked ${arg.startsWith('tok_') ? arg : 'the token'}`);
    else throw new TypeError(`no active token matches "${arg.startsWith('tok_') ? arg : arg.slice(0, 6) + '...'}"`);
  } else if (command === 'list') {
    for (const t of tokens.list()) {
      console.log(`${t.id}  ${t.revoked_at === null ? 'active ' : 'revoked'}  ${t.scopes.join(',')}  ${t.label ?? ''}  created ${new Date(t.created_at).toISOString()}`);
    }
  } else {
    console.log(usage);
    status = command === undefined ? 0 : 2;
  }
} catch (err) {
  console.error((err as Error).message);
  status = 2;
} finally {
  store.close();
}
process.exit(status);
