import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { type AddressLookup, CallbackError, createAddressGuard } from '../src/index.js';

const refusedAddresses = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback /8'],
  ['::1', 'IPv6 loopback'],
  ['10.0.0.1', 'private 10/8'],
  ['172.16.0.1', 'private 172.16/12'],
  ['172.31.255.255', 'private 172.16/12, last'],
  ['192.168.1.1', 'private 192.168/16'],
  ['fc00::1', 'unique local'],
  ['fd12:3456::1', 'unique local fd'],
  ['169.254.0.1', 'link-local'],
  ['fe80::1', 'IPv6 link-local'],
  ['fe80::1%eth0', 'IPv6 link-local with a zone'],
  ['100.64.0.1', 'CGNAT'],
  ['100.127.255.255', 'CGNAT, last'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'IPv6 unspecified'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'IPv6 multicast'],
  ['255.255.255.255', 'broadcast'],
  ['169.254.169.254', 'cloud metadata'],
  ['fd00:ec2::254', 'AWS metadata over IPv6'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:10.1.2.3', 'IPv4-mapped private'],
  ['64:ff9b::7f00:1', 'NAT64 of loopback'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of metadata'],
  ['64:ff9b::192.168.0.1', 'NAT64 of private'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  ['2002:7f00:1::', '6to4 of loopback'],
  ['2002:a00:1::1', '6to4 of private'],
  ['::127.0.0.1', 'IPv4-compatible'],
  ['2001:db8::1', 'documentation'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['198.18.0.1', 'benchmarking'],
  ['not an address', 'garbage'],
  ['', 'empty'],
] as const;

const allowedAddresses = [
  '8.8.8.8',
  '1.1.1.1',
  '172.32.0.1',
  '100.128.0.1',
  '169.253.255.255',
  '2606:4700:4700::1111',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
] as const;

describe('createAddressGuard', () => {
  const guard = createAddressGuard();

  it.each(refusedAddresses)('refuses %s (%s)', (address) => {
    expect(guard.check(address)).toBe(false);
  });

  it.each(allowedAddresses)('lets the public address %s through', (address) => {
    expect(guard.check(address)).toBe(true);
  });

  it('lets the allow-list through: addresses (also IPv4-mapped), CIDR ranges, host names', () => {
    const allowing = createAddressGuard({ allow: ['127.0.0.1', '10.1.0.0/16', 'fd00::/8', 'Intranet.Example'] });
    expect(allowing.check('127.0.0.1')).toBe(true);
    expect(allowing.check('::ffff:127.0.0.1')).toBe(true);
    expect(allowing.check('127.0.0.2')).toBe(false);
    expect(allowing.check('10.1.200.3')).toBe(true);
    expect(allowing.check('10.2.0.1')).toBe(false);
    expect(allowing.check('fd00:ec2::254')).toBe(true);
    expect(() => allowing.checkUrl(new URL('http://intranet.example./'))).not.toThrow();
  });

  it.each(['10.0.0.0/33', '::/129', 'a b', '', '1.2.3.4/x', 'host/8'])('refuses the allow entry %j', (entry) => {
    expect(() => createAddressGuard({ allow: [entry] })).toThrow(CallbackError);
  });

  it.each([
    'http://127.0.0.1/',
    'http://localhost:8080/',
    'http://LOCALHOST./',
    'http://api.localhost/',
    'http://10.0.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fe80::1]/',
    'http://0x7f000001/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://0/',
    'ftp://example.com/',
  ])('checkUrl refuses %s with CALLBACK_URL_REFUSED', (url) => {
    try {
      guard.checkUrl(new URL(url));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CallbackError);
      expect((error as CallbackError).code).toBe('CALLBACK_URL_REFUSED');
    }
  });

  it('checkUrl lets public literals and names through (names are checked again when they resolve)', () => {
    expect(() => guard.checkUrl(new URL('https://8.8.8.8/'))).not.toThrow();
    expect(() => guard.checkUrl(new URL('https://hooks.example.com/'))).not.toThrow();
  });
});

describe('the guard lookup', () => {
  const fakeDns =
    (table: Record<string, string[]>): AddressLookup =>
    (hostname, _options, callback) => {
      const addresses = table[hostname];
      if (addresses === undefined) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        return;
      }
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    };
  const run = (lookup: AddressLookup, hostname: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family: number | undefined }>(
      (resolve) => lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })),
    );
  const dns = fakeDns({
    'rebind.example': ['127.0.0.1'],
    'mixed.example': ['10.0.0.1', '93.184.216.34', '::1', '2606:2800:220:1::'],
    'public.example': ['93.184.216.34'],
  });

  it('fails a name that resolves only to refused addresses with CALLBACK_URL_REFUSED', async () => {
    const { err } = await run(createAddressGuard({ lookup: dns }).lookup, 'rebind.example', true);
    expect(err).toBeInstanceOf(CallbackError);
    expect((err as CallbackError).code).toBe('CALLBACK_URL_REFUSED');
    expect(err?.message).toContain('127.0.0.1');
  });

  it('leaves refused addresses out of a mixed answer, in both the all and the single form', async () => {
    const guard = createAddressGuard({ lookup: dns });
    expect((await run(guard.lookup, 'mixed.example', true)).address).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::', family: 6 },
    ]);
    expect(await run(guard.lookup, 'mixed.example', false)).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('passes DNS errors through and refuses local names before asking DNS', async () => {
    let asked = 0;
    const counting: AddressLookup = (hostname, options, callback) => {
      asked += 1;
      dns(hostname, options, callback);
    };
    const guard = createAddressGuard({ lookup: counting });
    expect((await run(guard.lookup, 'nowhere.example', true)).err?.code).toBe('ENOTFOUND');
    expect(asked).toBe(1);
    expect(((await run(guard.lookup, 'localhost', true)).err as CallbackError).code).toBe('CALLBACK_URL_REFUSED');
    expect(((await run(guard.lookup, 'metadata.google.internal', true)).err as CallbackError).code).toBe(
      'CALLBACK_URL_REFUSED',
    );
    expect(asked).toBe(1);
  });

  it('lets an allowed host name resolve to any address', async () => {
    const guard = createAddressGuard({ lookup: dns, allow: ['rebind.example'] });
    expect((await run(guard.lookup, 'rebind.example', true)).address).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });
});
