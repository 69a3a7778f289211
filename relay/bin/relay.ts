/**
 * Starts the relay with the configuration from TAPWIRE_* variables; SIGTERM and SIGINT
 * stop it gracefully (every bucket finalized and written).
 */
import { configFromEnv, type RelayConfig } from '../src/config.ts';
import { Relay } from '../src/relay.ts';
import { checkDataDir, checkNode, configError, exitWith, explainListenError, HELP, StartupError, wantsHelp } from '../src/startup-checks.ts';

checkOrExit(() => {
  if (wantsHelp(process.argv.slice(2))) {
    console.log(HELP);
    process.exit(0);
  }
});
checkOrExit(() => checkNode(process.versions.node));
let config!: RelayConfig;
checkOrExit(() => {
  config = configFromEnv();
});
checkOrExit(() => checkDataDir(config.dataDir));
let relay: Relay;
try {
  relay = await Relay.start(config);
} catch (err) {
  const explained = explainListenError(err, config.host, config.port);
  if (explained !== null) exitWith(explained);
  throw err;
}
relay.log.info(`Tapwire relay listening on ${relay.url} (data in ${config.dataDir}, ${relay.pool.workerCount} media workers)`);
console.log(`\n  Tapwire is running: ${relay.url}/`);
if (relay.adminToken !== null && process.env.JOURNAL_STREAM !== undefined) {
  // A service's stdout is its journal, which keeps what it is given: the token stays in its file.
  console.log(`  Sign in with the admin token in ${relay.adminTokenPath} (not printed: this output goes to the journal)`);
} else if (relay.adminToken !== null) {
  // The sign-in link carries the token read from the admin-token file (never logged).
  console.log(`  Sign in (admin token from ${relay.adminTokenPath}): ${relay.url}/?token=${relay.adminToken}`);
}
console.log('');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    relay.log.info(`${signal}: finalizing buckets and stopping`);
    relay.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        relay.log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  });
}

/** Runs a start-up check: a problem it names ends the process with its line and code. */
function checkOrExit(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof StartupError) exitWith(err);
    const config = configError(err);
    if (config !== null) exitWith(config);
    throw err;
  }
}
