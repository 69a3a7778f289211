/**
 * The relay's logger options for fastify (pino): the level, the format and what is kept out.
 *
 * Format (TAPWIRE_LOG_FORMAT): `json` writes one JSON object per line (for journald, log
 * shippers, pipes and tests); `pretty` writes one readable line per entry,
 * `[14:03:07.412] INFO: message {"trace_id":"..."}`, through pino-pretty as a synchronous
 * stream on the main thread (no transport worker: a line is out before `process.exit`);
 * `auto` is pretty when stdout is a terminal, JSON otherwise.
 *
 * Secrets: request logging is off (server.ts), tokens are never passed to the logger, and as
 * a second line of defence a `token` or `authorization` field is redacted and a request's
 * URL is logged without its query string (a WebSocket may carry `?token=`).
 */
import type { FastifyServerOptions } from 'fastify';
import pinoPretty from 'pino-pretty';
import type { LogFormat, RelayConfig } from '../config.ts';

/** Field paths pino replaces with "[redacted]" wherever a caller passes them. */
export const REDACTED_PATHS = ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'req.headers.authorization'];

/** `auto` resolved against the output: pretty on a terminal, JSON lines elsewhere. */
export function resolveLogFormat(format: LogFormat, isTTY: boolean): 'pretty' | 'json' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

/** A request as fastify logs it (its default serializer), without the query string. */
function requestWithoutQuery(req: { method?: string; url?: string; ip?: string; socket?: { remotePort?: number } }): Record<string, unknown> {
  return { method: req.method, url: req.url?.split('?')[0], remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** fastify's `logger` option for this configuration (false: no logging at all). */
export function relayLoggerOptions(config: Pick<RelayConfig, 'logLevel' | 'logFormat'>, stdout: { isTTY?: boolean } = process.stdout): FastifyServerOptions['logger'] {
  if (config.logLevel === 'silent') return false;
  const isTTY = stdout.isTTY === true;
  const base = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: requestWithoutQuery },
  };
  if (resolveLogFormat(config.logFormat, isTTY) === 'json') return base;
  const stream = pinoPretty({ sync: true, colorize: isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  return { ...base, stream };
}
