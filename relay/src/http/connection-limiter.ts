/**
 * Caps on the open connections of one WebSocket endpoint: in all, and per client address.
 * A slot is taken when the upgrade request passes the check and given back when its TCP
 * socket closes, so a handshake that fails half-way leaks nothing.
 */
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { TrustedProxies } from './trusted-proxies.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The proxies whose X-Forwarded-For names the client (TAPWIRE_TRUSTED_PROXIES; server.ts sets it). */
    trustedProxies: TrustedProxies;
  }
}

export interface Refusal {
  /** 503 relay_busy, 429 too_many_connections (protocol/errors.ts). */
  code: 'relay_busy' | 'too_many_connections';
  message: string;
  retryAfterS: number;
}

/** Seconds a refused client is asked to wait before it tries again. */
const RETRY_AFTER_S = 10;

export class ConnectionLimiter {
  private total = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(
    /** The endpoint's path, for messages. */
    readonly endpoint: string,
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  get count(): number {
    return this.total;
  }

  /** Takes a slot for this socket (given back when it closes), or says why not. */
  tryAcquire(address: string, socket: Socket): Refusal | null {
    if (this.total >= this.maxTotal) {
      return {
        code: 'relay_busy',
        message: `${this.endpoint} has ${this.maxTotal} connections open, its limit; try again later`,
        retryAfterS: RETRY_AFTER_S,
      };
    }
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.maxPerAddress) {
      return {
        code: 'too_many_connections',
        message: `${address} has ${mine} connections open to ${this.endpoint}, the limit per client address; close one or try again later`,
        retryAfterS: RETRY_AFTER_S,
      };
    }
    this.total++;
    this.byAddress.set(address, mine + 1);
    socket.once('close', () => {
      this.total--;
      const n = (this.byAddress.get(address) ?? 1) - 1;
      if (n === 0) this.byAddress.delete(address);
      else this.byAddress.set(address, n);
    });
    return null;
  }
}

/**
 * The address of a request's client as one spelling (IPv4-mapped IPv6 as plain IPv4): its
 * socket's peer, or behind a trusted proxy the client that proxy names (trusted-proxies.ts).
 */
export function clientAddress(req: FastifyRequest): string {
  return req.server.trustedProxies.clientOf(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for']);
}
