/**
 * The relay's TLS material at start: the certificate and key files a user names
 * (TAPWIRE_TLS_CERT / TAPWIRE_TLS_KEY), or the local CA's (TAPWIRE_TLS=local, `--tls`),
 * read and checked before anything listens. A file that cannot be read, is not PEM, or a key
 * that does not belong to the certificate is a StartupError with the configuration's exit
 * code (78): one line, no stack trace.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RelayConfig } from '../config.ts';
import { EXIT, StartupError } from '../startup-checks.ts';
import { ensureLocalCertificate, LocalCaError } from './local-ca.ts';

export interface RelayTls {
  /** PEM, as the HTTPS server takes them. */
  cert: Buffer;
  key: Buffer;
  certFile: string;
  /** The local CA's certificate (PEM) when TLS is local: served at /tls/ca.pem. Null with a user's own certificate. */
  caPem: string | null;
  caFile: string | null;
  /** True when this start made or re-issued the local certificate. */
  issued: boolean;
}

function readPem(path: string, variable: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StartupError(`${variable} names ${path}, which cannot be read (${code}): give the path of a readable PEM ${what}.`, EXIT.config);
  }
}

/** Reads a certificate and its key, and checks that they are PEM and belong together. */
export function loadTlsFiles(certFile: string, keyFile: string, vars = { cert: 'TAPWIRE_TLS_CERT', key: 'TAPWIRE_TLS_KEY' }): { cert: Buffer; key: Buffer } {
  const cert = readPem(certFile, vars.cert, 'certificate');
  const key = readPem(keyFile, vars.key, 'private key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new StartupError(`${vars.cert} (${certFile}) is not a PEM certificate ("-----BEGIN CERTIFICATE-----").`, EXIT.config);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // The parser's message could quote the file: only the path is said.
    throw new StartupError(`${vars.key} (${keyFile}) is not an unencrypted PEM private key ("-----BEGIN PRIVATE KEY-----" or "-----BEGIN EC/RSA PRIVATE KEY-----").`, EXIT.config);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new StartupError(`${vars.key} (${keyFile}) is not the key of the certificate in ${vars.cert} (${certFile}): give the key the certificate was issued for.`, EXIT.config);
  }
  return { cert, key };
}

/** The TLS the configuration asks for, or null for plain HTTP. */
export async function prepareTls(config: RelayConfig): Promise<RelayTls | null> {
  if (config.tls === 'local') {
    let r: Awaited<ReturnType<typeof ensureLocalCertificate>>;
    try {
      r = await ensureLocalCertificate(join(config.dataDir, 'tls'));
    } catch (err) {
      if (err instanceof LocalCaError) throw new StartupError(`the local certificate could not be made: ${err.message}.`, EXIT.config);
      throw err;
    }
    const vars = { cert: 'the local certificate', key: 'the local key' };
    const { cert, key } = loadTlsFiles(r.files.serverCert, r.files.serverKey, vars);
    return { cert, key, certFile: r.files.serverCert, caPem: readPem(r.files.caCert, 'the local CA', 'certificate').toString('utf8'), caFile: r.files.caCert, issued: r.issued };
  }
  if (config.tlsCertFile !== null && config.tlsKeyFile !== null) {
    const { cert, key } = loadTlsFiles(config.tlsCertFile, config.tlsKeyFile);
    return { cert, key, certFile: config.tlsCertFile, caPem: null, caFile: null, issued: false };
  }
  return null;
}
