/**
 * The local CA's certificate, for devices to download and trust (docs/HTTPS.md): public,
 * as any CA certificate is, and only the certificate: the CA's key never leaves the data
 * directory. Served only when the relay runs with its local CA (TAPWIRE_TLS=local, --tls).
 *
 *   GET /tls/ca.pem  application/x-pem-file (desktops, `certutil`, `update-ca-certificates`)
 *   GET /tls/ca.crt  application/x-x509-ca-cert, DER (what Android and iOS offer to install)
 */
import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../http/access.ts';

export const CA_PEM_PATH = '/tls/ca.pem';
export const CA_CRT_PATH = '/tls/ca.crt';

export function registerCaRoutes(app: FastifyInstance, caPem: string): void {
  // Re-encoded from the parsed certificate: whatever else the file held (a key pasted into
  // it by mistake) is never sent.
  const ca = new X509Certificate(caPem);
  const pem = ca.toString();
  const der = ca.raw;
  const download = 'attachment; filename="tapwire-ca';
  app.get(CA_PEM_PATH, { config: { access: PUBLIC } }, async (_req, reply) =>
    reply.type('application/x-pem-file').header('Content-Disposition', `${download}.pem"`).header('Cache-Control', 'no-cache').send(pem),
  );
  app.get(CA_CRT_PATH, { config: { access: PUBLIC } }, async (_req, reply) =>
    reply.type('application/x-x509-ca-cert').header('Content-Disposition', `${download}.crt"`).header('Cache-Control', 'no-cache').send(der),
  );
}
