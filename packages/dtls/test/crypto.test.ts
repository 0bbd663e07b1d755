// Known-answer tests of the DTLS 1.2 key schedule and record protection. Oracles (none computed by the code under
// test):
// - TLS 1.2 PRF: the P_SHA256 / P_SHA384 "test label" vectors posted to the IETF TLS list
//   (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html; also in GnuTLS tests/tls12-prf.c), rechecked
//   with `openssl kdf -keylen 100 -kdfopt digest:SHA256 -kdfopt hexsecret:... -kdfopt hexseed:... TLS1-PRF`.
// - Key schedule, Finished and CBC records: "The Illustrated TLS 1.2 Connection" (https://tls12.xargs.org, source
//   github.com/syncsynchalt/illustrated-tls12, site/index.html and captures/keylog.txt), a real Go crypto/tls
//   connection with TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, whose record protection and key sizes are those of
//   TLS_PSK_WITH_AES_128_CBC_SHA (only the premaster secret differs, and that is the given input here).
// - AES-CCM with a 12-byte nonce and an 8-byte tag (the CCM_8 record shape): NIST SP 800-38C appendix C, example 3.
// - AES-CCM with a 12-byte nonce and a 16-byte tag: Wycheproof testvectors/aes_ccm_test.json, group ivSize 96 /
//   tagSize 128, tcId 34 and 36.
// - AES-GCM: the GCM specification (McGrew and Viega, 2005), appendix B test cases 4 (AES-128) and 16 (AES-256).
// The AEAD vectors go through createProtection with salt = nonce[0..4] and explicit nonce = nonce[4..12], so they
// check the RFC 5288 3 / RFC 6655 3 nonce layout as well as the cipher. test/crypto-openssl.test.ts checks every
// suite end to end against OpenSSL's DTLS 1.2.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CIPHER_SUITES,
  type CipherSuite,
  createProtection,
  DtlsError,
  deriveKeyBlock,
  extendedMasterSecret,
  finishedVerifyData,
  masterSecret,
  prf,
  pskPremasterSecret,
  suiteById,
  verifyDataMatches,
} from '../src/index.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const hexOf = (data: Uint8Array): string => Buffer.from(data).toString('hex');
const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

function suite(id: number): CipherSuite {
  const found = suiteById(id);
  if (!found) throw new Error(`no suite 0x${id.toString(16)}`);
  return found;
}

/** The TLS 1.2 MAC header / AEAD additional data (RFC 5246 6.2.3.1): seq_num(8) type version(0303) length. */
function tlsHeader(sequence: number, type: number): (length: number) => Uint8Array {
  return (length) => {
    const header = new Uint8Array(13);
    const view = new DataView(header.buffer);
    view.setUint32(4, sequence);
    header[8] = type;
    view.setUint16(9, 0x0303);
    view.setUint16(11, length);
    return header;
  };
}

function thrown(action: () => unknown): DtlsError {
  try {
    action();
  } catch (error) {
    if (error instanceof DtlsError) return error;
    throw error;
  }
  throw new Error('expected a DtlsError, nothing was thrown');
}

describe('TLS 1.2 PRF (RFC 5246 5)', () => {
  it('matches the published P_SHA256 vector (100 bytes)', () => {
    const out = prf(
      'sha256',
      bytes('9bbe436ba940f017b17652849a71db35'),
      'test label',
      bytes('a0ba9f936cda311827a6f796ffd5198c'),
      100,
    );
    expect(hexOf(out)).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af' +
        '0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701' +
        '87347b66',
    );
  });

  it('matches the published P_SHA384 vector (148 bytes)', () => {
    const out = prf(
      'sha384',
      bytes('b80b733d6ceefcdc71566ea48e5567df'),
      'test label',
      bytes('cd665cf6a8447dd6ff8b27555edb7465'),
      148,
    );
    expect(hexOf(out)).toBe(
      '7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0' +
        'e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425' +
        '9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d' +
        '73e56f',
    );
  });

  it('is a stream: a shorter output is a prefix of a longer one, across hash-block boundaries', () => {
    const secret = bytes('000102030405');
    const seed = bytes('aabbcc');
    const long = prf('sha256', secret, 'label', seed, 100);
    for (const length of [1, 31, 32, 33, 64, 65, 99]) {
      expect(hexOf(prf('sha256', secret, 'label', seed, length))).toBe(hexOf(long.subarray(0, length)));
    }
  });

  it('refuses an output length of 0, a fraction or over 1024 bytes', () => {
    for (const length of [0, -1, 1.5, 1025]) {
      expect(thrown(() => prf('sha256', new Uint8Array(1), 'x', new Uint8Array(0), length)).code).toBe(
        'DTLS_INVALID_OPTION',
      );
    }
  });
});

describe('PSK premaster secret (RFC 4279 2)', () => {
  it('is uint16 N, N zero bytes, uint16 N, then the PSK', () => {
    expect(hexOf(pskPremasterSecret(bytes('0102')))).toBe('0002' + '0000' + '0002' + '0102');
    expect(hexOf(pskPremasterSecret(bytes('000102030405060708090a0b0c0d0e0f')))).toBe(
      `0010${'00'.repeat(16)}0010000102030405060708090a0b0c0d0e0f`,
    );
  });

  it('refuses an empty PSK (every key would be public) and one too long for a uint16 length', () => {
    expect(thrown(() => pskPremasterSecret(new Uint8Array(0))).code).toBe('DTLS_INVALID_OPTION');
    expect(thrown(() => pskPremasterSecret(new Uint8Array(0x10000))).code).toBe('DTLS_INVALID_OPTION');
    expect(pskPremasterSecret(new Uint8Array(0xffff)).length).toBe(4 + 2 * 0xffff);
  });
});

// https://tls12.xargs.org: "Client Encryption Keys Calculation", "Client/Server Handshake Finished", "Client/Server
// Application Data" and "Client Close Notify".
describe('the key schedule and CBC records of The Illustrated TLS 1.2 Connection', () => {
  const clientRandom = bytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const serverRandom = bytes('707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f');
  const premaster = bytes('df4a291baa1eb7cfa6934b29b474baad2697e29f1f920dcc77c8a0a088447624');
  const master = bytes(
    '916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049781c8e19fc1eb2a7387ac06ae237344c',
  );
  const cbcSha = suite(0x008c);

  it('derives the master secret from the premaster secret and both randoms (RFC 5246 8.1)', () => {
    expect(hexOf(masterSecret('sha256', premaster, clientRandom, serverRandom))).toBe(hexOf(master));
  });

  it('expands the master secret into MAC keys then write keys, server random first (RFC 5246 6.3)', () => {
    const keys = deriveKeyBlock(cbcSha, master, clientRandom, serverRandom);
    expect(hexOf(keys.clientMacKey)).toBe('1b7d117c7d5f690bc263cae8ef60af0f1878acc2');
    expect(hexOf(keys.serverMacKey)).toBe('2ad8bdd8c601a617126f63540eb20906f781fad2');
    expect(hexOf(keys.clientWriteKey)).toBe('f656d037b173ef3e11169f27231a84b6');
    expect(hexOf(keys.serverWriteKey)).toBe('752a18e7a9fcb7cbcdd8f98dd8f769eb');
    // TLS 1.2 CBC takes no IV from the key block (RFC 5246 6.3); the site's "write IVs" are the next 32 bytes.
    expect(keys.clientWriteIv.length).toBe(0);
    expect(keys.serverWriteIv.length).toBe(0);
    const block = prf('sha256', master, 'key expansion', new Uint8Array([...serverRandom, ...clientRandom]), 104);
    expect(hexOf(block.subarray(72))).toBe('a0d2550c9238eebfef5c32251abb67d6434528db4937d540d393135e06a11bb8');
  });

  it('computes both Finished verify_data from the handshake hashes (RFC 5246 7.4.9)', () => {
    const client = finishedVerifyData(
      'sha256',
      master,
      'client finished',
      bytes('061dda04b3c2217ff73bd79b9cf88a2bb6ec505404aac8722db03ef417b54cb4'),
    );
    const server = finishedVerifyData(
      'sha256',
      master,
      'server finished',
      bytes('b2017ba28d0e27f03ae327456b6ff00b4d5bbf0ef7cda83ce1029b521c3e7c35'),
    );
    expect(hexOf(client)).toBe('cf919626f1360c536aaad73a');
    expect(hexOf(server)).toBe('844d3c10746dd722f92f0c7e');
    expect(verifyDataMatches(client, bytes('cf919626f1360c536aaad73a'))).toBe(true);
    expect(verifyDataMatches(client, server)).toBe(false);
    expect(verifyDataMatches(client, client.subarray(0, 11))).toBe(false);
  });

  const keys = deriveKeyBlock(cbcSha, master, clientRandom, serverRandom);
  const fromClient = createProtection(cbcSha, keys.clientWriteKey, keys.clientWriteIv, keys.clientMacKey);
  const fromServer = createProtection(cbcSha, keys.serverWriteKey, keys.serverWriteIv, keys.serverMacKey);
  const records = [
    {
      name: 'client Finished',
      protection: fromClient,
      sequence: 0,
      type: 0x16,
      fragment:
        '404142434445464748494a4b4c4d4e4f' +
        '227bc9ba81ef30f2a8a78ff1df50844d5804b7eeb2e214c32b6892aca3db7b78077fdd90067c516bacb3ba90dedf720f',
      plaintext: '1400000ccf919626f1360c536aaad73a',
    },
    {
      name: 'server Finished',
      protection: fromServer,
      sequence: 0,
      type: 0x16,
      fragment:
        '5152535455565758595a5b5c5d5e5f60' +
        '18e075317b100315f6081fcbf313781aac73efe19fe25ba1af59c20be94fc01bda2d6800298b73a7e849d74bd494cf7d',
      plaintext: '1400000c844d3c10746dd722f92f0c7e',
    },
    {
      name: 'client "ping"',
      protection: fromClient,
      sequence: 1,
      type: 0x17,
      fragment: '000102030405060708090a0b0c0d0e0f6c421c71c42b183bfa06195d133d0a09d00fc7cb4e0f5d1cda59d147ec790c99',
      plaintext: '70696e67',
    },
    {
      name: 'server "pong"',
      protection: fromServer,
      sequence: 1,
      type: 0x17,
      fragment: '6162636465666768696a6b6c6d6e6f709783488af5fa20bf7a2ef69debb534db9fb07a8c2721dee5409f77af0c3dde56',
      plaintext: '706f6e67',
    },
    {
      name: 'client close_notify',
      protection: fromClient,
      sequence: 2,
      type: 0x15,
      fragment: '101112131415161718191a1b1c1d1e1f0d83f97904750dd8fd8aa130218632634fd065e4628379b88bbf9efd1287a62d',
      plaintext: '0100',
    },
  ];

  it.each(records)('opens the $name record (MAC-then-encrypt, RFC 5246 6.2.3.2)', (record) => {
    const opened = record.protection.open(tlsHeader(record.sequence, record.type), bytes(record.fragment));
    expect(hexOf(opened)).toBe(record.plaintext);
  });

  it.each(records)('refuses the $name record under the wrong sequence number or content type', (record) => {
    const fragment = bytes(record.fragment);
    expect(thrown(() => record.protection.open(tlsHeader(record.sequence + 1, record.type), fragment)).code).toBe(
      'DTLS_BAD_RECORD_MAC',
    );
    expect(thrown(() => record.protection.open(tlsHeader(record.sequence, 0x14), fragment)).code).toBe(
      'DTLS_BAD_RECORD_MAC',
    );
  });

  it('seals "ping" as plaintext, the published HMAC-SHA1 and minimal padding under a fresh random IV', () => {
    const first = fromClient.seal(tlsHeader(1, 0x17), new Uint8Array(8), ascii('ping'));
    const second = fromClient.seal(tlsHeader(1, 0x17), new Uint8Array(8), ascii('ping'));
    expect(first.length).toBe(48);
    expect(hexOf(first.subarray(0, 16))).not.toBe(hexOf(second.subarray(0, 16)));
    const decipher = createDecipheriv('aes-128-cbc', keys.clientWriteKey, first.subarray(0, 16)).setAutoPadding(false);
    const body = Buffer.concat([decipher.update(first.subarray(16)), decipher.final()]);
    expect(body.toString('hex')).toBe(`70696e67${'60101249f74a0377c9cacf6309751370d80cfcaa'}${'07'.repeat(8)}`);
  });
});

describe('the cipher suites', () => {
  it('lists the seven PSK suites in server preference order, CCM_8 first (RFC 7925 4.2)', () => {
    expect(CIPHER_SUITES.map((s) => `0x${s.id.toString(16).padStart(4, '0')} ${s.name}`)).toEqual([
      '0xc0a8 TLS_PSK_WITH_AES_128_CCM_8',
      '0xc0a4 TLS_PSK_WITH_AES_128_CCM',
      '0x00a8 TLS_PSK_WITH_AES_128_GCM_SHA256',
      '0x00a9 TLS_PSK_WITH_AES_256_GCM_SHA384',
      '0x00ae TLS_PSK_WITH_AES_128_CBC_SHA256',
      '0x008c TLS_PSK_WITH_AES_128_CBC_SHA',
      '0x008d TLS_PSK_WITH_AES_256_CBC_SHA',
    ]);
  });

  it('carries the parameters of RFC 6655, RFC 5487 and RFC 4279', () => {
    const row = (s: CipherSuite) =>
      [
        s.prfHash,
        s.cipher,
        s.keyLength,
        s.fixedIvLength,
        s.recordIvLength,
        s.tagLength,
        s.macAlgorithm,
        s.macLength,
      ].join(' ');
    expect(CIPHER_SUITES.map(row)).toEqual([
      'sha256 aes-128-ccm 16 4 8 8  0',
      'sha256 aes-128-ccm 16 4 8 16  0',
      'sha256 aes-128-gcm 16 4 8 16  0',
      'sha384 aes-256-gcm 32 4 8 16  0',
      'sha256 aes-128-cbc 16 0 16 0 sha256 32',
      'sha256 aes-128-cbc 16 0 16 0 sha1 20',
      'sha256 aes-256-cbc 32 0 16 0 sha1 20',
    ]);
  });

  it('finds a suite by code point and nothing for an unsupported one', () => {
    expect(suiteById(0xc0a8)?.name).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(suiteById(0x002f)).toBeUndefined(); // TLS_RSA_WITH_AES_128_CBC_SHA: not PSK
    expect(suiteById(0x00ff)).toBeUndefined(); // the renegotiation SCSV is not a suite
  });

  it('cuts an AEAD key block into two keys and two 4-byte salts, with no MAC keys', () => {
    const master = new Uint8Array(48).fill(7);
    const keys = deriveKeyBlock(suite(0x00a9), master, new Uint8Array(32), new Uint8Array(32).fill(1));
    const block = prf(
      'sha384',
      master,
      'key expansion',
      new Uint8Array([...new Uint8Array(32).fill(1), ...new Uint8Array(32)]),
      72,
    );
    expect(keys.clientMacKey.length + keys.serverMacKey.length).toBe(0);
    expect(hexOf(keys.clientWriteKey)).toBe(hexOf(block.subarray(0, 32)));
    expect(hexOf(keys.serverWriteKey)).toBe(hexOf(block.subarray(32, 64)));
    expect(hexOf(keys.clientWriteIv)).toBe(hexOf(block.subarray(64, 68)));
    expect(hexOf(keys.serverWriteIv)).toBe(hexOf(block.subarray(68, 72)));
  });

  it('refuses a random that is not 32 bytes as illegal_parameter, a master secret that is not 48 as a bad option', () => {
    const error = thrown(() => masterSecret('sha256', new Uint8Array(8), new Uint8Array(31), new Uint8Array(32)));
    expect([error.code, error.alert]).toEqual(['DTLS_ILLEGAL_PARAMETER', 47]);
    expect(
      thrown(() => deriveKeyBlock(suite(0xc0a8), new Uint8Array(32), new Uint8Array(32), new Uint8Array(33))).code,
    ).toBe('DTLS_INVALID_OPTION');
    expect(
      thrown(() => deriveKeyBlock(suite(0xc0a8), new Uint8Array(48), new Uint8Array(32), new Uint8Array(33))).code,
    ).toBe('DTLS_ILLEGAL_PARAMETER');
  });

  it('refuses a session or handshake hash that is not the PRF hash length', () => {
    expect(thrown(() => extendedMasterSecret('sha384', new Uint8Array(8), new Uint8Array(32))).code).toBe(
      'DTLS_INVALID_OPTION',
    );
    expect(
      thrown(() => finishedVerifyData('sha256', new Uint8Array(48), 'client finished', new Uint8Array(48))).code,
    ).toBe('DTLS_INVALID_OPTION');
  });
});

describe('AEAD record protection against published AES-CCM and AES-GCM vectors', () => {
  const vectors = [
    {
      source: 'SP 800-38C C.3 (CCM, 8-byte tag)',
      suite: 0xc0a8,
      key: '404142434445464748494a4b4c4d4e4f',
      nonce: '101112131415161718191a1b',
      aad: '000102030405060708090a0b0c0d0e0f10111213',
      plaintext: '202122232425262728292a2b2c2d2e2f3031323334353637',
      sealed: 'e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951',
    },
    {
      source: 'Wycheproof AES-CCM tcId 34 (16-byte tag)',
      suite: 0xc0a4,
      key: '875b0b4a84150524eb1f50f9d8de1388',
      nonce: 'fdc5014ed1ad706129d57322',
      aad: '35a6d9829c8449c4402e385cc5c6fe98',
      plaintext: '2f575dfb2dbe9d238de576fc63e4ac32',
      sealed: '3469c3ff738aa32aacc1ac48d89b1d75fa68720a3171a54c4b3690bffde7b610',
    },
    {
      source: 'Wycheproof AES-CCM tcId 36 (16-byte tag, partial block)',
      suite: 0xc0a4,
      key: 'e3d3ec41f28eb35fb53f5fa91804e051',
      nonce: '89d270fc8b583bc631cefd39',
      aad: '3d2f458c67c5b6c794b1f12dad409e0f',
      plaintext: '847acf521995b33f8bc474c8befbca3bb2',
      sealed: '28aaec53493cd6252cf6410ed141bdafb747bf3e16c227ca11fd68a16d407c2cc3',
    },
    {
      source: 'GCM specification test case 4 (AES-128)',
      suite: 0x00a8,
      key: 'feffe9928665731c6d6a8f9467308308',
      nonce: 'cafebabefacedbaddecaf888',
      aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
      plaintext:
        'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525' +
        'b16aedf5aa0de657ba637b39',
      sealed:
        '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa05' +
        '1ba30b396a0aac973d58e091' +
        '5bc94fbc3221a5db94fae95ae7121a47',
    },
    {
      source: 'GCM specification test case 16 (AES-256)',
      suite: 0x00a9,
      key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
      nonce: 'cafebabefacedbaddecaf888',
      aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
      plaintext:
        'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525' +
        'b16aedf5aa0de657ba637b39',
      sealed:
        '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838' +
        'c5f61e6393ba7a0abcc9f662' +
        '76fc6ece0f4e1768cddf8853bb2d551b',
    },
  ];

  it.each(vectors)('seals and opens the $source vector with salt || explicit nonce', (vector) => {
    const nonce = bytes(vector.nonce);
    const protection = createProtection(
      suite(vector.suite),
      bytes(vector.key),
      nonce.subarray(0, 4),
      new Uint8Array(0),
    );
    const aad = (length: number) => {
      expect(length).toBe(vector.plaintext.length / 2);
      return bytes(vector.aad);
    };
    const fragment = protection.seal(aad, nonce.subarray(4), bytes(vector.plaintext));
    expect(hexOf(fragment)).toBe(vector.nonce.slice(8) + vector.sealed);
    expect(hexOf(protection.open(aad, fragment))).toBe(vector.plaintext);
  });
});

describe('record protection failures', () => {
  const zeroAad = () => new Uint8Array(13);
  const protectionOf = (s: CipherSuite) =>
    createProtection(
      s,
      new Uint8Array(s.keyLength).fill(1),
      new Uint8Array(s.fixedIvLength).fill(2),
      new Uint8Array(s.macLength).fill(3),
    );

  it.each(CIPHER_SUITES)('$name refuses every fragment too short to hold its overhead', (s) => {
    const protection = protectionOf(s);
    // AEAD: explicit nonce and tag; CBC: IV and the blocks for MAC and one padding byte.
    const shortest = s.macAlgorithm === null ? 8 + s.tagLength : 16 + Math.ceil((s.macLength + 1) / 16) * 16;
    for (let length = 0; length < shortest; length++) {
      const error = thrown(() => protection.open(zeroAad, randomBytes(length)));
      expect([error.code, error.alert]).toEqual(['DTLS_BAD_RECORD_MAC', 20]);
    }
  });

  it.each(CIPHER_SUITES)('$name grows a record by at most its overhead, AEAD by exactly that', (s) => {
    const protection = protectionOf(s);
    for (let length = 0; length <= 64; length++) {
      const grown = protection.seal(zeroAad, new Uint8Array(8), new Uint8Array(length)).length - length;
      if (s.macAlgorithm === null) expect(grown).toBe(protection.overhead);
      else expect(grown).toBeLessThanOrEqual(protection.overhead);
    }
    expect(protection.overhead).toBe({ 49320: 16, 49316: 24, 168: 24, 169: 24, 174: 64, 140: 52, 141: 52 }[s.id]);
  });

  it.each(CIPHER_SUITES)('$name bounds plaintexts at 2^14 and fragments at 2^14 + 2048 (record_overflow)', (s) => {
    const protection = protectionOf(s);
    expect(protection.seal(zeroAad, new Uint8Array(8), new Uint8Array(16384)).length).toBeGreaterThan(16384);
    const sealError = thrown(() => protection.seal(zeroAad, new Uint8Array(8), new Uint8Array(16385)));
    expect([sealError.code, sealError.alert]).toEqual(['DTLS_LIMIT', 22]);
    const openError = thrown(() => protection.open(zeroAad, new Uint8Array(16384 + 2048 + 1)));
    expect([openError.code, openError.alert]).toEqual(['DTLS_LIMIT', 22]);
  });

  it('refuses keys, salts and explicit nonces of the wrong length', () => {
    const ccm8 = suite(0xc0a8);
    expect(thrown(() => createProtection(ccm8, new Uint8Array(32), new Uint8Array(4), new Uint8Array(0))).code).toBe(
      'DTLS_INVALID_OPTION',
    );
    expect(thrown(() => createProtection(ccm8, new Uint8Array(16), new Uint8Array(12), new Uint8Array(0))).code).toBe(
      'DTLS_INVALID_OPTION',
    );
    expect(
      thrown(() => createProtection(suite(0x008c), new Uint8Array(16), new Uint8Array(0), new Uint8Array(32))).code,
    ).toBe('DTLS_INVALID_OPTION');
    const protection = protectionOf(ccm8);
    expect(thrown(() => protection.seal(zeroAad, new Uint8Array(6), new Uint8Array(1))).code).toBe(
      'DTLS_INVALID_OPTION',
    );
  });
});

// MAC-then-encrypt records built here with node:crypto directly, to reach the paddings seal() never produces.
describe('CBC padding (RFC 5246 6.2.3.2)', () => {
  const cbcSha = suite(0x008c);
  const key = new Uint8Array(16).fill(0x11);
  const macKey = new Uint8Array(20).fill(0x22);
  const protection = createProtection(cbcSha, key, new Uint8Array(0), macKey);
  const header = tlsHeader(9, 0x17);

  /** IV || AES-CBC(plaintext || mac || padding), where padding is given whole (its last byte is the length). */
  function record(plaintext: Uint8Array, padding: Uint8Array, mac?: Uint8Array): Uint8Array {
    const tag = mac ?? createHmac('sha1', macKey).update(header(plaintext.length)).update(plaintext).digest();
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    return Buffer.concat([iv, cipher.update(Buffer.concat([plaintext, tag, padding])), cipher.final()]);
  }

  it('accepts the longest padding, 256 bytes of 0xff', () => {
    const plaintext = ascii('twelve bytes'); // 12 + 20 + 256 = 288, whole blocks
    expect(hexOf(protection.open(header, record(plaintext, new Uint8Array(256).fill(255))))).toBe(hexOf(plaintext));
  });

  it('accepts any padding length that fills whole blocks, not only the minimal one', () => {
    const plaintext = ascii('ping'); // 4 + 20 = 24: 8, 24, 40, ... padding bytes
    for (const length of [8, 24, 40, 248]) {
      expect(hexOf(protection.open(header, record(plaintext, new Uint8Array(length).fill(length - 1))))).toBe(
        hexOf(plaintext),
      );
    }
  });

  it('answers bad padding and a bad MAC with the same error: no padding oracle', () => {
    const plaintext = ascii('ping');
    const padding = new Uint8Array(8).fill(7);
    const wrongPadding = padding.slice();
    wrongPadding[2] = 6; // the MAC is right, one padding byte is not
    const overlong = new Uint8Array(8).fill(7);
    overlong[7] = 200; // a padding length beyond the record
    const badMac = new Uint8Array(20);
    const errors = [
      thrown(() => protection.open(header, record(plaintext, wrongPadding))),
      thrown(() => protection.open(header, record(plaintext, overlong))),
      thrown(() => protection.open(header, record(plaintext, padding, badMac))),
      thrown(() => protection.open(header, record(plaintext, padding).subarray(0, 47))), // not whole blocks
    ];
    for (const error of errors) {
      expect([error.code, error.alert, error.message]).toEqual([errors[0]?.code, errors[0]?.alert, errors[0]?.message]);
    }
    expect(errors[0]?.code).toBe('DTLS_BAD_RECORD_MAC');
    expect(hexOf(protection.open(header, record(plaintext, padding)))).toBe(hexOf(plaintext));
  });
});
