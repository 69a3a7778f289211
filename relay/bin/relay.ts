/**
 * Starts the relay with the configuration from TAPWIRE_* variables; SIGTERM and SIGINT
 * stop it gracefully (every bucket finalized and written).
 */
import { configFromEnv } from '../src/config.ts';
import { Relay } from '../src/relay.ts';

const config = configFromEnv();
const relay = await Relay.start(config);
relay.log.info(`Tapwire relay listening on ${relay.url} (data in ${config.dataDir}, ${relay.pool.workerCount} media workers)`);
console.log(`\n  Tapwire is running: ${relay.url}/`);
if (relay.adminToken !== null) {
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
