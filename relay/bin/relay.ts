/**
 * Starts the relay with the configuration from TAPWIRE_* variables (`--tls`: HTTPS with the
 * local CA, as TAPWIRE_TLS=local); SIGTERM and SIGINT stop it gracefully (every bucket
 * finalized and written).
 */
import { configFromEnv, validateConfig, type RelayConfig } from '../src/config.ts';
import { Relay } from '../src/relay.ts';
import { checkDataDir, checkNode, configError, exitWith, explainListenError, HELP, parseStartArgs, StartupError } from '../src/startup-checks.ts';
import { certificateInfo } from '../src/tls/certificate-info.ts';
import { httpsBanner, isLoopbackHost, plainHttpWarning } from '../src/tls/start-banner.ts';

let tlsFlag = false;
checkOrExit(() => {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help) {
    console.log(HELP);
    process.exit(0);
  }
  tlsFlag = args.tls;
});
checkOrExit(() => checkNode(process.versions.node));
let config!: RelayConfig;
checkOrExit(() => {
  config = configFromEnv();
  if (tlsFlag) config = validateConfig({ ...config, tls: 'local' });
});
checkOrExit(() => checkDataDir(config.dataDir));
let relay: Relay;
try {
  relay = await Relay.start(config);
} catch (err) {
  // A certificate that cannot be used (relay/src/tls/relay-tls.ts) is one line and exit 78.
  if (err instanceof StartupError) exitWith(err);
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
if (relay.tls !== null) {
  if (relay.tls.issued) relay.log.info(`issued the relay's certificate ${relay.tls.certFile} from the local CA (keys mode 0600)`);
  const caFingerprint = relay.tls.caPem === null ? null : certificateInfo(relay.tls.caPem).fingerprint256;
  console.log(`\n${await httpsBanner({ host: config.host, port: Number(new URL(relay.url).port), caFile: relay.tls.caFile, caFingerprint })}`);
} else if (!isLoopbackHost(config.host) && config.trustedProxies.length === 0) {
  // Reachable beyond this machine over plain HTTP (behind a trusted proxy, the proxy serves HTTPS).
  console.warn(`tapwire: ${plainHttpWarning(config.host)}`);
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
