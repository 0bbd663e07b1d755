// The TLS 1.2 key schedule that DTLS 1.2 reuses unchanged (RFC 6347 4.2): the PRF (RFC 5246 5), the PSK premaster
// secret (RFC 4279 2), the master secret (RFC 5246 8.1, RFC 7627 4) and the Finished verify_data (RFC 5246 7.4.9).
// These run a few times per handshake, never per record: clarity over speed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DtlsError } from '../errors.js';

/** The hash of a cipher suite's PRF: SHA-256 for every suite here but the SHA-384 ones (RFC 5246 5, RFC 5487 3). */
export type PrfHash = 'sha256' | 'sha384';

/** Output bytes of each PRF hash: the length of a session hash or handshake hash fed to the functions below. */
export const PRF_HASH_LENGTH: Readonly<Record<PrfHash, number>> = Object.freeze({ sha256: 32, sha384: 48 });

/** Bytes of a master secret (RFC 5246 8.1). */
export const MASTER_SECRET_LENGTH = 48;
/** Bytes of a ClientHello or ServerHello random (RFC 5246 7.4.1.2). */
export const RANDOM_LENGTH = 32;
/** Bytes of verify_data in Finished (RFC 5246 7.4.9: 12 unless the suite says otherwise, and none here does). */
export const VERIFY_DATA_LENGTH = 12;
/**
 * The most PRF output one call may ask for. The key schedule needs at most 136 bytes (a key block of two 32-byte
 * MAC keys, two 32-byte keys and two 4-byte salts); the bound only stops a runaway length.
 */
export const MAX_PRF_LENGTH = 1024;
/** The longest PSK RFC 4279 2 can encode (a uint16 length). RFC 4279 5.3 asks for at least 64 bytes to be supported. */
export const MAX_PSK_LENGTH = 0xffff;

/** Throws `DTLS_INVALID_OPTION` unless `bytes` has `expected` bytes (a caller's mistake, not the peer's). */
export function checkLength(what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) {
    throw new DtlsError('DTLS_INVALID_OPTION', `${what} has ${expected} bytes, got ${bytes.length}`);
  }
}

/** Throws `DTLS_ILLEGAL_PARAMETER` (alert 47) unless a hello random has 32 bytes. */
export function checkRandom(what: string, random: Uint8Array): void {
  // A random comes off the wire: a wrong length is the peer's illegal_parameter (RFC 5246 7.2.2), not ours.
  if (random.length !== RANDOM_LENGTH) {
    throw new DtlsError('DTLS_ILLEGAL_PARAMETER', `${what} has ${RANDOM_LENGTH} bytes, got ${random.length}`, {
      alert: 47,
    });
  }
}

/**
 * The TLS 1.2 PRF (RFC 5246 5): `P_hash(secret, label + seed)` cut to `length` bytes, where
 * `P_hash = HMAC(secret, A(1) + seed') + HMAC(secret, A(2) + seed') + ...` and `A(i) = HMAC(secret, A(i-1))`.
 *
 * @param hash The suite's PRF hash.
 * @param label An ASCII label ("master secret", "key expansion", ...).
 * @param length 1..{@link MAX_PRF_LENGTH} bytes.
 * @throws DtlsError `DTLS_INVALID_OPTION` for a length out of range.
 * @example
 * prf('sha256', masterSecret, 'key expansion', concat(serverRandom, clientRandom), 40);
 */
export function prf(hash: PrfHash, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > MAX_PRF_LENGTH) {
    throw new DtlsError('DTLS_INVALID_OPTION', `a PRF output length is 1..${MAX_PRF_LENGTH}, got ${length}`);
  }
  const labelBytes = Buffer.from(label, 'latin1');
  const out = new Uint8Array(length);
  // A(0) = label + seed; the label is part of the PRF's seed (RFC 5246 5: PRF = P_hash(secret, label + seed)).
  let a: Uint8Array = createHmac(hash, secret).update(labelBytes).update(seed).digest();
  let written = 0;
  for (;;) {
    const block = createHmac(hash, secret).update(a).update(labelBytes).update(seed).digest();
    const take = Math.min(block.length, length - written);
    out.set(take === block.length ? block : block.subarray(0, take), written);
    written += take;
    if (written === length) return out;
    a = createHmac(hash, secret).update(a).digest();
  }
}

/**
 * The premaster secret of plain PSK key exchange (RFC 4279 2): `uint16 N, N zero bytes, uint16 N, psk`, N being the
 * PSK's length (the "other_secret" is N zeros when there is no Diffie-Hellman or RSA part).
 *
 * @throws DtlsError `DTLS_INVALID_OPTION` for an empty PSK or one over {@link MAX_PSK_LENGTH} bytes.
 * @example
 * pskPremasterSecret(Uint8Array.of(1, 2)); // 0002 0000 0002 0102
 */
export function pskPremasterSecret(psk: Uint8Array): Uint8Array {
  const n = psk.length;
  // An empty PSK would make the whole key schedule public; refuse it rather than derive keys anyone can compute.
  if (n === 0 || n > MAX_PSK_LENGTH) {
    throw new DtlsError('DTLS_INVALID_OPTION', `a PSK has 1..${MAX_PSK_LENGTH} bytes, got ${n}`);
  }
  const out = new Uint8Array(4 + 2 * n);
  const view = new DataView(out.buffer);
  view.setUint16(0, n);
  view.setUint16(2 + n, n);
  out.set(psk, 4 + n);
  return out;
}

/**
 * The master secret (RFC 5246 8.1): `PRF(premaster, "master secret", client_random + server_random)[0..47]`. Use it
 * only when the peer did not negotiate extended_master_secret; see {@link extendedMasterSecret}.
 *
 * @throws DtlsError `DTLS_ILLEGAL_PARAMETER` (alert 47) when a random is not 32 bytes.
 */
export function masterSecret(
  hash: PrfHash,
  premaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): Uint8Array {
  checkRandom('a client random', clientRandom);
  checkRandom('a server random', serverRandom);
  const seed = new Uint8Array(2 * RANDOM_LENGTH);
  seed.set(clientRandom, 0);
  seed.set(serverRandom, RANDOM_LENGTH);
  return prf(hash, premaster, 'master secret', seed, MASTER_SECRET_LENGTH);
}

/**
 * The extended master secret (RFC 7627 4): `PRF(premaster, "extended master secret", session_hash)[0..47]`, where
 * session_hash is the PRF hash of the handshake messages up to and including ClientKeyExchange (RFC 7627 3; in DTLS
 * without the first ClientHello and HelloVerifyRequest, RFC 6347 4.2.1).
 *
 * @throws DtlsError `DTLS_INVALID_OPTION` when sessionHash is not the PRF hash's length.
 */
export function extendedMasterSecret(hash: PrfHash, premaster: Uint8Array, sessionHash: Uint8Array): Uint8Array {
  checkLength('a session hash', sessionHash, PRF_HASH_LENGTH[hash]);
  return prf(hash, premaster, 'extended master secret', sessionHash, MASTER_SECRET_LENGTH);
}

/**
 * Finished's verify_data (RFC 5246 7.4.9): `PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]`.
 *
 * @param handshakeHash The PRF hash of every handshake message before this Finished (RFC 6347 4.2.6 for what DTLS
 *   hashes).
 * @throws DtlsError `DTLS_INVALID_OPTION` for a master secret that is not 48 bytes or a hash of the wrong length.
 */
export function finishedVerifyData(
  hash: PrfHash,
  master: Uint8Array,
  label: 'client finished' | 'server finished',
  handshakeHash: Uint8Array,
): Uint8Array {
  checkLength('a master secret', master, MASTER_SECRET_LENGTH);
  checkLength('a handshake hash', handshakeHash, PRF_HASH_LENGTH[hash]);
  return prf(hash, master, label, handshakeHash, VERIFY_DATA_LENGTH);
}

/**
 * Whether a received verify_data is the expected one, compared in constant time (a byte-by-byte early exit would
 * tell an attacker how many leading bytes of a forged Finished are right). Any length but 12 is false.
 */
export function verifyDataMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return (
    expected.length === VERIFY_DATA_LENGTH &&
    received.length === VERIFY_DATA_LENGTH &&
    timingSafeEqual(expected, received)
  );
}
