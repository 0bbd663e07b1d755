// Server-side request forgery guard (Standard Webhooks "SSRF"; OWASP SSRF prevention): a callback URL is the
// customer's, so by default it may not reach the server's own network. The check runs on the address a socket
// actually connects to (the `lookup` below is handed to the connector), so a name that resolves to a public
// address when the callback is saved and to 127.0.0.1 when it is delivered (DNS rebinding) is still refused.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { CallbackError } from '../errors.js';

/** A `dns.lookup`-compatible resolver, as `net.connect({ lookup })` calls it. */
export type AddressLookup = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface AddressGuardOptions {
  /**
   * Destinations allowed although the guard would refuse them: IPv4/IPv6 addresses, CIDR ranges (`10.1.0.0/16`,
   * `fd00::/8`) and host names (exact, case-insensitive; a name allowed here may resolve to any address). For
   * tests (`['127.0.0.1']`) and on-premise installations.
   */
  allow?: readonly string[];
  /** The resolver under the guard; default `dns.lookup`. */
  lookup?: AddressLookup;
}

export interface AddressGuard {
  /** `true` when a connection to `address` is allowed. Unparseable addresses are refused. */
  check(address: string, family?: 4 | 6): boolean;
  /**
   * Checks a URL's host before any connection: refused names (`localhost`, `*.localhost`, cloud metadata names)
   * and refused IP literals (WHATWG URL parsing has already turned `0x7f000001` into `127.0.0.1`).
   * @throws CallbackError `CALLBACK_URL_REFUSED`
   */
  checkUrl(url: URL): void;
  /** `dns.lookup` that leaves out refused addresses and fails with `CALLBACK_URL_REFUSED` when none is left. */
  lookup: AddressLookup;
}

// IANA IPv4 Special-Purpose Address Registry (RFC 6890) and the ranges an SSRF reaches into.
const REFUSED_IPV4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified, "this network" (RFC 1122)'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback (RFC 1122)'],
  ['169.254.0.0', 16, 'link-local and cloud metadata 169.254.169.254 (RFC 3927)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0', 24, 'documentation (RFC 5737)'],
  ['192.88.99.0', 24, '6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking (RFC 2544)'],
  ['198.51.100.0', 24, 'documentation (RFC 5737)'],
  ['203.0.113.0', 24, 'documentation (RFC 5737)'],
  ['224.0.0.0', 4, 'multicast (RFC 5771)'],
  ['240.0.0.0', 4, 'reserved, and the broadcast 255.255.255.255 (RFC 1112, RFC 919)'],
];
// IANA IPv6 Special-Purpose Address Registry. IPv4-mapped addresses (::ffff:0:0/96) need no entry: BlockList
// matches them against the IPv4 rules. NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056) embed an
// IPv4 address that a gateway connects to, so every IPv4 rule is repeated under those prefixes below.
const REFUSED_IPV6: readonly [string, number, string][] = [
  ['::', 96, 'unspecified, loopback ::1 and IPv4-compatible (RFC 4291)'],
  ['64:ff9b:1::', 48, 'local-use NAT64 (RFC 8215)'],
  ['100::', 64, 'discard-only (RFC 6666)'],
  ['2001::', 32, 'Teredo (RFC 4380)'],
  ['2001:db8::', 32, 'documentation (RFC 3849)'],
  ['fc00::', 7, 'unique local, including AWS metadata fd00:ec2::254 (RFC 4193)'],
  ['fe80::', 10, 'link-local (RFC 4291)'],
  ['fec0::', 10, 'site-local, deprecated (RFC 3879)'],
  ['ff00::', 8, 'multicast (RFC 4291)'],
];
// Names that always mean this machine or its cloud metadata service, refused before any DNS query.
// RFC 6761 6.3: `localhost` and `*.localhost` are loopback.
const REFUSED_NAMES = new Set(['localhost', 'metadata.google.internal', 'metadata.goog', 'instance-data']);

function buildRefusedList(): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of REFUSED_IPV4) {
    list.addSubnet(network, prefix, 'ipv4');
    const [a = 0, b = 0, c = 0, d = 0] = network.split('.').map(Number);
    list.addSubnet(`64:ff9b::${network}`, 96 + prefix, 'ipv6');
    const hex = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
    list.addSubnet(`2002:${hex(a, b)}:${hex(c, d)}::`, 16 + prefix, 'ipv6');
  }
  for (const [network, prefix] of REFUSED_IPV6) list.addSubnet(network, prefix, 'ipv6');
  return list;
}

const REFUSED = buildRefusedList();

/**
 * Creates the SSRF guard: refuses loopback, private, link-local, CGNAT, unspecified, multicast, broadcast,
 * documentation and reserved addresses, the cloud metadata addresses and names, and their IPv4-mapped, NAT64
 * and 6to4 forms, unless `allow` lists them.
 * @throws CallbackError `CALLBACK_INVALID` naming a bad `allow` entry.
 * @example
 * const guard = createAddressGuard({ allow: ['127.0.0.1'] });
 * guard.check('127.0.0.1'); // true
 * guard.check('10.0.0.1'); // false
 */
export function createAddressGuard(options: AddressGuardOptions = {}): AddressGuard {
  const allowed = new BlockList();
  const allowedNames = new Set<string>();
  for (const entry of options.allow ?? []) addAllowed(entry, allowed, allowedNames);
  const resolve: AddressLookup = options.lookup ?? (dnsLookup as AddressLookup);

  const check = (address: string): boolean => {
    const ip = bareAddress(address);
    const family = isIP(ip);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    return allowed.check(ip, type) || !REFUSED.check(ip, type);
  };

  const nameRefusal = (hostname: string): string | undefined => {
    const name = normalName(hostname);
    if (allowedNames.has(name)) return undefined;
    if (REFUSED_NAMES.has(name) || name.endsWith('.localhost'))
      return `host "${name}" is refused (local or metadata name)`;
    return undefined;
  };

  const checkUrl = (url: URL): void => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CallbackError(
        'CALLBACK_URL_REFUSED',
        `url scheme "${url.protocol}" is refused; only http: and https: are delivered`,
      );
    }
    const host = bareAddress(url.hostname);
    if (isIP(host) !== 0) {
      if (!check(host))
        throw new CallbackError('CALLBACK_URL_REFUSED', `address ${host} is refused (not a public address)`);
      return;
    }
    const refusal = nameRefusal(host);
    if (refusal !== undefined) throw new CallbackError('CALLBACK_URL_REFUSED', refusal);
  };

  const lookup: AddressLookup = (hostname, lookupOptions, callback) => {
    const refusal = isIP(bareAddress(hostname)) === 0 ? nameRefusal(hostname) : undefined;
    if (refusal !== undefined) {
      callback(new CallbackError('CALLBACK_URL_REFUSED', refusal), '', 0);
      return;
    }
    const nameAllowed = allowedNames.has(normalName(hostname));
    resolve(hostname, { ...lookupOptions, all: true }, (err, result) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      const addresses = typeof result === 'string' ? [{ address: result, family: isIP(result) }] : result;
      const usable = nameAllowed ? addresses : addresses.filter((entry) => check(entry.address));
      const first = usable[0];
      if (first === undefined) {
        const listed = addresses
          .map((entry) => entry.address)
          .slice(0, 4)
          .join(', ');
        callback(
          new CallbackError(
            'CALLBACK_URL_REFUSED',
            `host "${hostname}" resolves only to refused addresses (${listed})`,
          ),
          '',
          0,
        );
        return;
      }
      if (lookupOptions.all === true) callback(null, usable);
      else callback(null, first.address, first.family);
    });
  };

  return { check, checkUrl, lookup };
}

function addAllowed(entry: string, allowed: BlockList, names: Set<string>): void {
  const invalid = (): CallbackError =>
    new CallbackError(
      'CALLBACK_INVALID',
      `allow entry ${JSON.stringify(entry)} is not an address, a CIDR range or a host name`,
    );
  if (typeof entry !== 'string' || entry.trim() === '') throw invalid();
  const slash = entry.indexOf('/');
  const address = bareAddress(slash === -1 ? entry.trim() : entry.slice(0, slash).trim());
  const family = isIP(address);
  if (family === 0) {
    if (slash !== -1 || !/^[A-Za-z0-9.-]+$/.test(address)) throw invalid();
    names.add(normalName(address));
    return;
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) {
    allowed.addAddress(address, type);
    return;
  }
  const prefixText = entry.slice(slash + 1).trim();
  const prefix = Number(prefixText);
  if (!/^\d+$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw invalid();
  allowed.addSubnet(address, prefix, type);
}

/** An address without URL brackets or an IPv6 zone (`fe80::1%eth0`: BlockList would not match it at all). */
function bareAddress(address: string): string {
  let bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = bare.indexOf('%');
  if (zone !== -1 && bare.includes(':')) bare = bare.slice(0, zone);
  return bare;
}

/** Lowercase without the trailing dot of a fully qualified name (`localhost.` is `localhost`). */
function normalName(hostname: string): string {
  const name = hostname.toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
