// The PSK cipher suites this package speaks (RFC 4279, RFC 5487, RFC 6655) and the key expansion that feeds them
// (RFC 5246 6.3). No RC4, no 3DES, no NULL cipher: DTLS forbids stream ciphers (RFC 6347 4.1.2.2) and the rest are
// weak or pointless.
import { DtlsError } from '../errors.js';
import { checkLength, checkRandom, MASTER_SECRET_LENGTH, type PrfHash, prf, RANDOM_LENGTH } from './prf.js';

/** A cipher suite's record protection and key schedule parameters (RFC 5246 6.1 SecurityParameters). */
export interface CipherSuite {
  /** The IANA code point, as sent in ClientHello and ServerHello. */
  id: number;
  /** The IANA name. */
  name: string;
  /** The PRF hash, also the handshake transcript hash (RFC 5246 7.4.9). */
  prfHash: PrfHash;
  /** The node:crypto cipher name. */
  cipher: 'aes-128-ccm' | 'aes-128-gcm' | 'aes-256-gcm' | 'aes-128-cbc' | 'aes-256-cbc';
  /** Bytes of each write key. */
  keyLength: number;
  /** Bytes of each write IV taken from the key block: the 4-byte AEAD salt (RFC 5288 3, RFC 6655 3); 0 for CBC. */
  fixedIvLength: number;
  /** Bytes of IV sent in each record: the 8-byte explicit nonce for AEAD, a whole 16-byte block for CBC. */
  recordIvLength: number;
  /** Bytes of AEAD authentication tag; 0 for CBC (which has a MAC instead). */
  tagLength: number;
  /** The HMAC hash of a CBC suite (RFC 5246 6.2.3.1); null for AEAD. */
  macAlgorithm: 'sha1' | 'sha256' | null;
  /** Bytes of each MAC key and of the MAC in each record; 0 for AEAD. */
  macLength: number;
}

function aead(
  id: number,
  name: string,
  prfHash: PrfHash,
  cipher: CipherSuite['cipher'],
  keyLength: number,
  tagLength: number,
): CipherSuite {
  return Object.freeze({
    id,
    name,
    prfHash,
    cipher,
    keyLength,
    fixedIvLength: 4,
    recordIvLength: 8,
    tagLength,
    macAlgorithm: null,
    macLength: 0,
  });
}

function cbc(id: number, name: string, keyLength: 16 | 32, macAlgorithm: 'sha1' | 'sha256'): CipherSuite {
  return Object.freeze({
    id,
    name,
    // Every pre-TLS-1.2 suite uses the SHA-256 PRF in TLS 1.2 (RFC 5246 5); RFC 5487 3 says so of *_CBC_SHA256 too.
    prfHash: 'sha256',
    cipher: keyLength === 16 ? 'aes-128-cbc' : 'aes-256-cbc',
    keyLength,
    fixedIvLength: 0,
    recordIvLength: 16,
    tagLength: 0,
    macAlgorithm,
    macLength: macAlgorithm === 'sha1' ? 20 : 32,
  });
}

/**
 * The supported suites in server preference order: CCM_8 first, the one RFC 7925 4.2 makes mandatory for constrained
 * devices (and the one with the least per-record overhead); then the other AEADs; CBC last, for old clients only
 * (MAC-then-encrypt, RFC 5246 6.2.3.2, with the timing caveats documented in protection.ts).
 */
export const CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  aead(0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8', 'sha256', 'aes-128-ccm', 16, 8), // RFC 6655 4, RFC 7925 4.2
  aead(0xc0a4, 'TLS_PSK_WITH_AES_128_CCM', 'sha256', 'aes-128-ccm', 16, 16), // RFC 6655 4
  aead(0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'sha256', 'aes-128-gcm', 16, 16), // RFC 5487 2
  aead(0x00a9, 'TLS_PSK_WITH_AES_256_GCM_SHA384', 'sha384', 'aes-256-gcm', 32, 16), // RFC 5487 2
  cbc(0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256', 16, 'sha256'), // RFC 5487 3
  cbc(0x008c, 'TLS_PSK_WITH_AES_128_CBC_SHA', 16, 'sha1'), // RFC 4279 2
  cbc(0x008d, 'TLS_PSK_WITH_AES_256_CBC_SHA', 32, 'sha1'), // RFC 4279 2
]);

const SUITES_BY_ID: ReadonlyMap<number, CipherSuite> = new Map(CIPHER_SUITES.map((suite) => [suite.id, suite]));

/** The supported suite with this code point, or undefined (an unknown or unsupported one). */
export function suiteById(id: number): CipherSuite | undefined {
  return SUITES_BY_ID.get(id);
}

/**
 * Suites named by id or IANA name, in the order given (a preference); all of them, CCM_8 first, when none are given.
 * @throws DtlsError `DTLS_INVALID_OPTION` naming one this package does not speak.
 */
export function resolveCipherSuites(list: readonly (number | string)[] | undefined): CipherSuite[] {
  if (!list) return [...CIPHER_SUITES];
  return list.map((item) => {
    const suite = typeof item === 'number' ? suiteById(item) : CIPHER_SUITES.find((s) => s.name === item);
    if (!suite)
      throw new DtlsError('DTLS_INVALID_OPTION', `cipherSuites: ${String(item)} is not a supported PSK suite`);
    return suite;
  });
}

/** One connection's traffic keys (RFC 5246 6.3); empty arrays where the suite has no such key. */
export interface KeyBlock {
  clientWriteKey: Uint8Array;
  serverWriteKey: Uint8Array;
  /** The client's 4-byte AEAD salt; empty for CBC. */
  clientWriteIv: Uint8Array;
  /** The server's 4-byte AEAD salt; empty for CBC. */
  serverWriteIv: Uint8Array;
  /** The client's HMAC key; empty for AEAD. */
  clientMacKey: Uint8Array;
  /** The server's HMAC key; empty for AEAD. */
  serverMacKey: Uint8Array;
}

/**
 * Expands a master secret into traffic keys (RFC 5246 6.3):
 * `key_block = PRF(master_secret, "key expansion", server_random + client_random)`, cut in order into the client and
 * server MAC keys, the client and server write keys and the client and server write IVs. The six keys are views of
 * one array.
 *
 * @throws DtlsError `DTLS_INVALID_OPTION` for a master secret that is not 48 bytes, `DTLS_ILLEGAL_PARAMETER` (alert
 *   47) for a random that is not 32.
 * @example
 * const keys = deriveKeyBlock(suiteById(0xc0a8)!, master, clientRandom, serverRandom);
 * const fromClient = createProtection(suite, keys.clientWriteKey, keys.clientWriteIv, keys.clientMacKey);
 */
export function deriveKeyBlock(
  suite: CipherSuite,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): KeyBlock {
  checkLength('a master secret', master, MASTER_SECRET_LENGTH);
  checkRandom('a client random', clientRandom);
  checkRandom('a server random', serverRandom);
  const seed = new Uint8Array(2 * RANDOM_LENGTH);
  // Server random first here, unlike the master secret's seed (RFC 5246 6.3 vs 8.1).
  seed.set(serverRandom, 0);
  seed.set(clientRandom, RANDOM_LENGTH);
  const { macLength, keyLength, fixedIvLength } = suite;
  const block = prf(suite.prfHash, master, 'key expansion', seed, 2 * (macLength + keyLength + fixedIvLength));
  let offset = 0;
  const take = (length: number): Uint8Array => {
    const part = block.subarray(offset, offset + length);
    offset += length;
    return part;
  };
  const clientMacKey = take(macLength);
  const serverMacKey = take(macLength);
  const clientWriteKey = take(keyLength);
  const serverWriteKey = take(keyLength);
  const clientWriteIv = take(fixedIvLength);
  const serverWriteIv = take(fixedIvLength);
  return { clientWriteKey, serverWriteKey, clientWriteIv, serverWriteIv, clientMacKey, serverMacKey };
}
