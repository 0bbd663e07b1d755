// Record payload protection for one direction of one epoch: AEAD (AES-CCM, AES-GCM; RFC 5246 6.2.3.3 with the
// nonce of RFC 5288 3 / RFC 6655 3) and AES-CBC with HMAC, MAC-then-encrypt (RFC 5246 6.2.3.2). The record layer
// builds the header, the additional data and the sequence numbers; this file only turns a plaintext fragment into a
// protected one and back. It runs once per datagram: keys are imported once per instance, and each record costs one
// cipher context, one output array and node's own output buffer.
//
// What is and is not constant time in open() (CBC; AEAD tag checks are OpenSSL's and constant time):
// - Constant: the padding check (every one of the last min(256, n) bytes is examined, branch-free), the choice of
//   the padding length to strip (a zero-length pad is assumed when the padding is bad, RFC 5246 6.2.3.2 note), the
//   MAC comparison (timingSafeEqual), and the number of SHA compression-function calls: after the HMAC over the
//   L plaintext bytes, a dummy hash of the blocks the HMAC would have needed for the longest possible plaintext
//   evens out the work (the Lucky Thirteen countermeasure of AlFardan and Paterson, 2013).
// - Not constant: node:crypto has no constant-time HMAC over a secret length, so the MAC and the dummy hash are two
//   native calls of secret-dependent sizes whose sum, not each, is fixed; cache and memory effects of the
//   secret-offset MAC read; V8's JIT and garbage collector. Timing open() on records with good padding and a bad
//   MAC against records with bad padding (0 and 255 bytes) showed no difference above node's run-to-run noise of
//   about a microsecond, which bounds but does not rule out a residual channel. DTLS drops bad records silently
//   (RFC 6347 4.1.2.7), leaving timing the only oracle; prefer the AEAD suites, which the server lists first.
// - Rejection itself (a thrown DtlsError, about 8 us for the stack trace) differs from acceptance; that outcome is
//   public anyway.
import {
  type CipherCCMTypes,
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomFillSync,
  timingSafeEqual,
} from 'node:crypto';
import { DtlsError } from '../errors.js';
import type { CipherSuite } from './suites.js';

/** Record protection for one direction and epoch (see {@link createProtection}). */
export interface RecordProtection {
  /**
   * Protects a record payload. `aad(len)` returns the additional data / MAC header for a plaintext of `len` bytes
   * (the record layer builds it: RFC 5246 6.2.3.3 with DTLS epoch+seq, or RFC 9146 5 for CID records).
   * `explicitNonce` is the 8-byte epoch||sequence (AEAD record IV, RFC 6655 3 / RFC 5288 3); CBC ignores it.
   * Returns the record fragment (explicit nonce || ciphertext || tag for AEAD; IV || CBC(plaintext || MAC ||
   * padding) for CBC, RFC 5246 6.2.3.2, random IV).
   * @throws DtlsError `DTLS_LIMIT` for a plaintext over 2^14 bytes, `DTLS_INVALID_OPTION` for an AEAD explicit nonce
   *   that is not 8 bytes.
   */
  seal(aad: (plaintextLength: number) => Uint8Array, explicitNonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Opens a fragment and returns its plaintext.
   * @throws DtlsError `DTLS_BAD_RECORD_MAC` (alert 20) for any fragment that does not authenticate, is too short or
   *   is not whole blocks, with the same error for bad padding and bad MAC (no padding oracle); `DTLS_LIMIT` (alert
   *   22, record_overflow, RFC 5246 6.2.3) for a fragment over 2^14 + 2048 bytes or a plaintext over 2^14.
   */
  open(aad: (plaintextLength: number) => Uint8Array, fragment: Uint8Array): Uint8Array;
  /** Bytes a record grows by at most (for MTU math). */
  readonly overhead: number;
}

/** The largest plaintext fragment (RFC 5246 6.2.1). */
export const MAX_PLAINTEXT_LENGTH = 2 ** 14;
/** The largest protected fragment a peer may send (RFC 5246 6.2.3). */
export const MAX_CIPHERTEXT_LENGTH = MAX_PLAINTEXT_LENGTH + 2048;

const AES_BLOCK = 16;
const EXPLICIT_NONCE_LENGTH = 8;
/** SHA-1 and SHA-256 compress 64-byte blocks; padding adds at least 9 bytes (0x80 and a 64-bit length). */
const SHA_BLOCK = 64;
const SHA_PADDING = 9;
/**
 * Zeros the dummy hash reads. A bad record differs from the longest plaintext by at most 256 bytes of padding, that
 * is at most 5 compression blocks (+1 always hashed): 6 * 64 - 9 bytes.
 */
const DUMMY_BYTES = new Uint8Array(8 * SHA_BLOCK);

/**
 * Random bytes for CBC record IVs, drawn 16 at a time: one randomFillSync per 256 records instead of one per record
 * (a call costs about as much as encrypting 500 bytes). Unused bytes are future IVs, as secret as any RNG state.
 */
const IV_POOL = new Uint8Array(256 * AES_BLOCK);
let ivPoolOffset = IV_POOL.length;

function fillRandomIv(iv: Uint8Array): void {
  if (ivPoolOffset === IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivPoolOffset = 0;
  }
  iv.set(IV_POOL.subarray(ivPoolOffset, ivPoolOffset + AES_BLOCK));
  ivPoolOffset += AES_BLOCK;
}

/** Compression-function calls SHA-1 or SHA-256 makes for a message of `length` bytes. */
function shaBlocks(length: number): number {
  return Math.floor((length + SHA_PADDING - 1) / SHA_BLOCK) + 1;
}

function badRecordMac(): DtlsError {
  // One message for every cause: what failed (length, padding, MAC, tag) is exactly what must not leak.
  return new DtlsError('DTLS_BAD_RECORD_MAC', 'a record does not authenticate (bad_record_mac), dropped', {
    alert: 20,
  });
}

function recordOverflow(what: string, length: number, limit: number): DtlsError {
  return new DtlsError('DTLS_LIMIT', `${what} of ${length} bytes exceeds ${limit} (record_overflow)`, { alert: 22 });
}

function checkPlaintextLength(length: number): void {
  if (length > MAX_PLAINTEXT_LENGTH) throw recordOverflow('a plaintext fragment', length, MAX_PLAINTEXT_LENGTH);
}

function checkKey(suite: CipherSuite, what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) {
    throw new DtlsError('DTLS_INVALID_OPTION', `${suite.name} needs a ${expected}-byte ${what}, got ${bytes.length}`);
  }
}

/** A plain Uint8Array over node's output (no copy): callers never meet Buffer's slice-is-a-view semantics. */
function bytesOf(buffer: Buffer, length: number = buffer.length): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

class AeadProtection implements RecordProtection {
  readonly overhead: number;
  readonly #suite: CipherSuite;
  readonly #key: KeyObject;
  readonly #ccm: boolean;
  readonly #tagLength: number;
  /** salt (4 bytes of the key block) || explicit nonce (8 bytes, from the record): RFC 5288 3, RFC 6655 3. */
  readonly #nonce = Buffer.alloc(12);

  constructor(suite: CipherSuite, key: Uint8Array, salt: Uint8Array) {
    this.#suite = suite;
    this.#key = createSecretKey(key);
    this.#ccm = suite.cipher === 'aes-128-ccm';
    this.#tagLength = suite.tagLength;
    this.#nonce.set(salt, 0);
    this.overhead = EXPLICIT_NONCE_LENGTH + suite.tagLength;
  }

  seal(aad: (plaintextLength: number) => Uint8Array, explicitNonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const length = plaintext.length;
    checkPlaintextLength(length);
    if (explicitNonce.length !== EXPLICIT_NONCE_LENGTH) {
      throw new DtlsError(
        'DTLS_INVALID_OPTION',
        `an explicit nonce has ${EXPLICIT_NONCE_LENGTH} bytes (epoch and sequence number), got ${explicitNonce.length}`,
      );
    }
    // The nonce buffer is reused: createCipheriv copies it, and nothing runs in between.
    this.#nonce.set(explicitNonce, 4);
    const cipher = this.#ccm
      ? createCipheriv(this.#suite.cipher as CipherCCMTypes, this.#key, this.#nonce, { authTagLength: this.#tagLength })
      : createCipheriv(this.#suite.cipher as CipherGCMTypes, this.#key, this.#nonce, {
          authTagLength: this.#tagLength,
        });
    // CCM puts the plaintext length in its first block, so node wants it with the AAD (ignored by GCM).
    cipher.setAAD(aad(length), { plaintextLength: length });
    const out = new Uint8Array(EXPLICIT_NONCE_LENGTH + length + this.#tagLength);
    out.set(explicitNonce, 0);
    out.set(cipher.update(plaintext), EXPLICIT_NONCE_LENGTH);
    cipher.final();
    out.set(cipher.getAuthTag(), EXPLICIT_NONCE_LENGTH + length);
    return out;
  }

  open(aad: (plaintextLength: number) => Uint8Array, fragment: Uint8Array): Uint8Array {
    const length = fragment.length;
    if (length > MAX_CIPHERTEXT_LENGTH) throw recordOverflow('a protected fragment', length, MAX_CIPHERTEXT_LENGTH);
    const plaintextLength = length - this.overhead;
    if (plaintextLength < 0) throw badRecordMac();
    // Lengths are public in AEAD: refuse an oversized plaintext before spending a decryption on it.
    checkPlaintextLength(plaintextLength);
    const additionalData = aad(plaintextLength);
    let plaintext: Buffer;
    try {
      this.#nonce.set(fragment.subarray(0, EXPLICIT_NONCE_LENGTH), 4);
      const options = { authTagLength: this.#tagLength };
      const decipher = this.#ccm
        ? createDecipheriv(this.#suite.cipher as CipherCCMTypes, this.#key, this.#nonce, options)
        : createDecipheriv(this.#suite.cipher as CipherGCMTypes, this.#key, this.#nonce, options);
      // CCM needs the tag before any data (node:crypto); GCM takes it any time before final().
      decipher.setAuthTag(fragment.subarray(length - this.#tagLength));
      decipher.setAAD(additionalData, { plaintextLength });
      plaintext = decipher.update(fragment.subarray(EXPLICIT_NONCE_LENGTH, length - this.#tagLength));
      // final() is where a wrong tag throws; nothing decrypted leaves before it returns.
      decipher.final();
    } catch {
      throw badRecordMac();
    }
    return bytesOf(plaintext);
  }
}

class CbcProtection implements RecordProtection {
  readonly overhead: number;
  readonly #cipher: CipherSuite['cipher'];
  readonly #key: KeyObject;
  readonly #macKey: KeyObject;
  readonly #macAlgorithm: 'sha1' | 'sha256';
  readonly #macLength: number;
  /** The shortest ciphertext (after the IV) that can hold a MAC and one padding byte. */
  readonly #minCiphertext: number;

  constructor(suite: CipherSuite, key: Uint8Array, macKey: Uint8Array) {
    if (suite.macAlgorithm === null) throw new DtlsError('DTLS_INVALID_OPTION', `${suite.name} is not a CBC suite`);
    this.#cipher = suite.cipher;
    this.#key = createSecretKey(key);
    this.#macKey = createSecretKey(macKey);
    this.#macAlgorithm = suite.macAlgorithm;
    this.#macLength = suite.macLength;
    this.#minCiphertext = Math.ceil((suite.macLength + 1) / AES_BLOCK) * AES_BLOCK;
    // IV, MAC, and 1..16 bytes of minimal padding (seal never pads more than it must).
    this.overhead = AES_BLOCK + suite.macLength + AES_BLOCK;
  }

  seal(aad: (plaintextLength: number) => Uint8Array, _explicitNonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const length = plaintext.length;
    checkPlaintextLength(length);
    const macLength = this.#macLength;
    // RFC 5246 6.2.3.1: MAC(MAC_write_key, seq_num + type + version + length + fragment); the header is aad().
    const mac = createHmac(this.#macAlgorithm, this.#macKey).update(aad(length)).update(plaintext).digest();
    const unpadded = length + macLength;
    // RFC 5246 6.2.3.2: padding_length + 1 bytes, each holding padding_length, to a whole number of blocks.
    const paddingLength = AES_BLOCK - 1 - (unpadded % AES_BLOCK);
    const out = new Uint8Array(AES_BLOCK + unpadded + paddingLength + 1);
    const iv = out.subarray(0, AES_BLOCK);
    // RFC 5246 6.2.3.2: a fresh, unpredictable IV per record (TLS 1.1+; never the previous record's last block).
    fillRandomIv(iv);
    const body = out.subarray(AES_BLOCK);
    body.set(plaintext, 0);
    body.set(mac, length);
    body.fill(paddingLength, unpadded);
    const cipher = createCipheriv(this.#cipher, this.#key, iv).setAutoPadding(false);
    // Encrypted in place: update() returns whole blocks, and the body is whole blocks.
    body.set(cipher.update(body), 0);
    cipher.final();
    return out;
  }

  open(aad: (plaintextLength: number) => Uint8Array, fragment: Uint8Array): Uint8Array {
    const length = fragment.length;
    if (length > MAX_CIPHERTEXT_LENGTH) throw recordOverflow('a protected fragment', length, MAX_CIPHERTEXT_LENGTH);
    const n = length - AES_BLOCK;
    // Public lengths: a fragment that cannot hold IV, MAC and padding, or is not whole blocks, is refused outright.
    if (n < this.#minCiphertext || n % AES_BLOCK !== 0) throw badRecordMac();
    const macLength = this.#macLength;
    let decrypted: Buffer;
    try {
      const decipher = createDecipheriv(this.#cipher, this.#key, fragment.subarray(0, AES_BLOCK)).setAutoPadding(false);
      decrypted = decipher.update(fragment.subarray(AES_BLOCK));
      decipher.final();
    } catch {
      throw badRecordMac();
    }

    // RFC 5246 6.2.3.2: padding_length + 1 bytes, all equal to padding_length, after the MAC. Checked without a
    // branch on secret data: `bad` collects any difference, and the loop length depends only on n.
    const paddingLength = decrypted[n - 1] as number;
    // Set (sign bit) when padding and MAC do not fit: n - macLength - 1 - paddingLength < 0.
    let bad = (n - macLength - 1 - paddingLength) >>> 31;
    const checked = Math.min(256, n);
    for (let i = 1; i <= checked; i++) {
      const inPadding = (i - paddingLength - 2) >>> 31; // 1 when i <= paddingLength + 1
      bad |= ((decrypted[n - i] as number) ^ paddingLength) & -inPadding;
    }
    const paddingOk = (bad - 1) >>> 31; // 1 when bad === 0
    // With bad padding, assume none and check the MAC anyway (RFC 5246 6.2.3.2 implementation note).
    const plaintextLength = n - macLength - 1 - (paddingLength & -paddingOk);

    const header = aad(plaintextLength);
    const expected = createHmac(this.#macAlgorithm, this.#macKey)
      .update(header)
      .update(decrypted.subarray(0, plaintextLength))
      .digest();
    // Lucky Thirteen: make the SHA compression calls the same whatever the padding length. The HMAC's inner hash
    // compresses the 64-byte ipad block, the header and the plaintext; the dummy hash makes up the difference to
    // the longest plaintext this record could hold, plus one block always.
    const inner = SHA_BLOCK + header.length;
    const missing = shaBlocks(inner + n - macLength - 1) - shaBlocks(inner + plaintextLength);
    createHash(this.#macAlgorithm)
      .update(DUMMY_BYTES.subarray(0, (missing + 1) * SHA_BLOCK - SHA_PADDING))
      .digest();

    const macOk = timingSafeEqual(expected, decrypted.subarray(plaintextLength, plaintextLength + macLength)) ? 1 : 0;
    if ((macOk & paddingOk) !== 1) throw badRecordMac();
    // Only now is the length public; RFC 5246 6.2.1 caps a plaintext at 2^14.
    checkPlaintextLength(plaintextLength);
    return bytesOf(decrypted, plaintextLength);
  }
}

/**
 * Creates record protection for one direction of one epoch: the writer's key, AEAD salt and MAC key from
 * {@link deriveKeyBlock} (`clientWriteKey`, `clientWriteIv`, `clientMacKey` to protect or open what the client
 * sends). AEAD suites take an empty macKey and CBC suites an empty fixedIv (the suite's length for them is 0).
 *
 * @throws DtlsError `DTLS_INVALID_OPTION` when a key or the salt is not the suite's length.
 * @example
 * const keys = deriveKeyBlock(suite, master, clientRandom, serverRandom);
 * const toServer = createProtection(suite, keys.clientWriteKey, keys.clientWriteIv, keys.clientMacKey);
 * const fragment = toServer.seal((length) => macHeader(epoch, seq, 23, length), epochAndSeq, payload);
 */
export function createProtection(
  suite: CipherSuite,
  key: Uint8Array,
  fixedIv: Uint8Array,
  macKey: Uint8Array,
): RecordProtection {
  checkKey(suite, 'write key', key, suite.keyLength);
  checkKey(suite, 'write IV', fixedIv, suite.fixedIvLength);
  checkKey(suite, 'MAC key', macKey, suite.macLength);
  return suite.macAlgorithm === null ? new AeadProtection(suite, key, fixedIv) : new CbcProtection(suite, key, macKey);
}
