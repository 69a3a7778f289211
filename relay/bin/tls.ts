/**
 * The local certificate authority for HTTPS on a LAN (docs/HTTPS.md):
 *
 *   npm run tls -- init [--name NAME]... [--ip ADDRESS]... [--force-ca]
 *   npm run tls -- show
 *
 * Files live in <data dir>/tls/ (TAPWIRE_DATA_DIR, default ./data). Keys are written mode
 * 0600 and never printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configFromEnv } from '../src/config.ts';
import { EXIT } from '../src/startup-checks.ts';
import { certificateInfo } from '../src/tls/certificate-info.ts';
import { initLocalCa, isDnsName, LocalCaError, localCaFiles, SERVER_DAYS } from '../src/tls/local-ca.ts';

const USAGE = `Usage: npm run tls -- init [--name NAME]... [--ip ADDRESS]... [--force-ca]
       npm run tls -- show

A local certificate authority, so that phones on the network can open the relay over
https:// (browsers allow microphones only on https:// or localhost). Files in
<data dir>/tls/ (TAPWIRE_DATA_DIR, default ./data): ca.pem (install it on each device),
ca-key.pem, server.pem, server-key.pem (keys mode 0600).

  init        make the CA if there is none (ECDSA P-256, 10 years), and issue the relay's
              certificate (${SERVER_DAYS} days) for localhost, this host's name and <name>.local,
              127.0.0.1, ::1 and every address of this machine. Run it again after the
              machine changes network: the CA is kept, so devices keep trusting it.
  --name NAME   another DNS name for the certificate (repeatable)
  --ip ADDRESS  another IP address for the certificate (repeatable)
  --force-ca    make a new CA (every device must then install the new ca.pem)
  show        what the certificates cover and when they expire

Then: npm start -- --tls   (or TAPWIRE_TLS=local npm start)
Exit codes: 0 done; 64 bad arguments; 78 openssl failed or the files are unusable.`;

function fail(message: string, code: number): never {
  console.error(`tapwire tls: ${message}`);
  process.exit(code);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
      'force-ca': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  fail(`${(err as Error).message} (see --help)`, EXIT.usage);
}
const { positionals, values } = parsed;
if (values.help === true || positionals.length === 0) {
  console.log(USAGE);
  process.exit(0);
}
const [command, ...rest] = positionals;
if (rest.length > 0 || (command !== 'init' && command !== 'show')) fail(`unknown command "${positionals.join(' ')}" (see --help)`, EXIT.usage);

const dir = join(configFromEnv().dataDir, 'tls');

function describe(label: string, path: string): void {
  const c = certificateInfo(readFileSync(path));
  const names = [...c.dns, ...c.ips];
  console.log(`${label}: ${path}`);
  console.log(`  ${c.subject.replace(/\n/g, ', ')}; valid until ${c.validTo.toISOString().slice(0, 10)}`);
  console.log(`  SHA-256 ${c.fingerprint256}`);
  if (names.length > 0) console.log(`  names: ${names.join(', ')}`);
}

if (command === 'show') {
  const files = localCaFiles(dir);
  if (!existsSync(files.caCert) || !existsSync(files.serverCert)) fail(`no local CA in ${dir}: make one with npm run tls -- init`, EXIT.config);
  describe('CA', files.caCert);
  describe('relay certificate', files.serverCert);
  process.exit(0);
}

for (const name of values.name ?? []) if (!isDnsName(name)) fail(`--name "${name}" is not a DNS name a certificate can carry (letters, digits, hyphens and dots)`, EXIT.usage);
for (const ip of values.ip ?? []) if (isIP(ip) === 0) fail(`--ip "${ip}" is not an IPv4 or IPv6 address`, EXIT.usage);
try {
  const r = await initLocalCa(dir, { extra: { dns: values.name ?? [], ips: values.ip ?? [] }, forceCa: values['force-ca'] === true });
  console.log(r.caCreated ? `made a new local CA in ${dir}` : `kept the local CA in ${dir} (devices that trust it keep working)`);
  describe('CA', r.files.caCert);
  describe('relay certificate', r.files.serverCert);
  console.log(`keys: ${r.files.caKey}, ${r.files.serverKey} (mode 0600)`);
  console.log('next: npm start -- --tls; then trust ca.pem on each device (docs/HTTPS.md)');
} catch (err) {
  if (err instanceof LocalCaError) fail(err.message, EXIT.config);
  throw err;
}
