/**
 * Reverse proxies the relay believes (TAPWIRE_TRUSTED_PROXIES, docs/DEPLOY.md). A request
 * whose TCP peer is one of them names its client in `X-Forwarded-For`: the client is the
 * right-most address of that list that is not itself a trusted proxy (each proxy appends the
 * peer it saw, so everything left of the first untrusted hop may be forged). A request from
 * any other peer is its socket's address, whatever its headers say.
 *
 * Headers that name a client are also a sign that the request went through a proxy: the
 * relay does not take "the peer is loopback" as "the user is on this machine" for such a
 * request (access.ts), since a proxy on the same machine makes every client look local.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/** Headers by which a proxy names the client it forwards (RFC 7239 `Forwarded` and the common de-facto ones). */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/** True when the request carries a header a proxy names a client with. */
export function carriesForwardingHeaders(headers: IncomingHttpHeaders): boolean {
  return FORWARDING_HEADERS.some((h) => headers[h] !== undefined);
}

/** An address as one spelling: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as plain IPv4. */
export function plainAddress(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * Why `entry` is not an IP address or a CIDR block (`10.0.0.0/8`, `fd00::/8`), or null when
 * it is one.
 */
export function proxyEntryError(entry: string): string | null {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return `"${entry}" is not an IP address or a CIDR block such as 10.0.0.0/8`;
  if (prefix === undefined) return null;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `"${entry}" has a prefix length that is not 0-${max}`;
  return null;
}

export class TrustedProxies {
  private readonly list = new BlockList();

  /** `entries`: IP addresses and CIDR blocks; a bad one throws a TypeError naming TAPWIRE_TRUSTED_PROXIES. */
  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const error = proxyEntryError(entry);
      if (error !== null) throw new TypeError(`TAPWIRE_TRUSTED_PROXIES must list IP addresses or CIDR blocks, separated by commas: ${error}`);
      const [address, prefix] = entry.split('/');
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
  }

  /** True when at least one proxy is trusted. */
  get any(): boolean {
    return this.entries.length > 0;
  }

  /** True when `address` is a trusted proxy. */
  has(address: string): boolean {
    const plain = plainAddress(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client of a request whose TCP peer is `peer`. `forwardedFor` is its `X-Forwarded-For`
   * (Node joins repeated headers with ", "). An entry that is not an address ends the walk:
   * the hop that wrote it is the client as far as the relay can tell.
   */
  clientOf(peer: string, forwardedFor: string | string[] | undefined): string {
    let client = plainAddress(peer);
    if (!this.has(client) || forwardedFor === undefined) return client;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plainAddress(hops[i].trim());
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.has(hop)) break;
    }
    return client;
  }
}
