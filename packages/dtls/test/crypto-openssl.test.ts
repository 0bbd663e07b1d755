// End-to-end known answers from real DTLS 1.2 connections: for every suite, OpenSSL 3.0.19's s_client talking to
// s_server through a UDP relay that logged each datagram, with the client's key log (NSS format) for the master
// secret. Captured with:
//   openssl s_server -dtls1_2 -nocert -psk 000102030405060708090a0b0c0d0e0f -psk_identity uplink -cipher <suite> \
//     -no_etm -no_ticket -naccept 1
//   openssl s_client -dtls1_2 -psk 000102030405060708090a0b0c0d0e0f -psk_identity uplink -cipher <suite> \
//     -keylogfile keys.txt
// then "ping\n" typed into the client, "pong\n" into the server, and the client closed. OpenSSL negotiated the
// extended master secret (RFC 7627) and a cookie exchange each time. The test parses the datagrams itself (a few
// lines, independent of record.ts) and checks the whole key schedule: PSK premaster -> extended master secret ==
// OpenSSL's, key block -> both Finished records open and carry the verify_data we compute, application data and
// the closing alert open; AEAD records re-seal byte for byte.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProtection,
  deriveKeyBlock,
  extendedMasterSecret,
  finishedVerifyData,
  masterSecret,
  pskPremasterSecret,
  type RecordProtection,
  suiteById,
} from '../src/index.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const hexOf = (data: Uint8Array): string => Buffer.from(data).toString('hex');
const PSK = bytes('000102030405060708090a0b0c0d0e0f');

interface Capture {
  suite: number;
  /** From the client's key log: CLIENT_RANDOM <client random> <master secret>. */
  clientRandom: string;
  masterSecret: string;
  datagrams: ['client' | 'server', string][];
}

interface CapturedRecord {
  from: 'client' | 'server';
  type: number;
  epoch: number;
  /** The 13-byte DTLS record header (RFC 6347 4.1). */
  header: Uint8Array;
  fragment: Uint8Array;
}

function recordsOf(capture: Capture): CapturedRecord[] {
  const records: CapturedRecord[] = [];
  for (const [from, hex] of capture.datagrams) {
    const datagram = bytes(hex);
    const view = new DataView(datagram.buffer);
    for (let offset = 0; offset < datagram.length; ) {
      const length = view.getUint16(offset + 11);
      records.push({
        from,
        type: datagram[offset] as number,
        epoch: view.getUint16(offset + 3),
        header: datagram.subarray(offset, offset + 13),
        fragment: datagram.subarray(offset + 13, offset + 13 + length),
      });
      offset += 13 + length;
    }
  }
  return records;
}

/** Whole handshake messages (12-byte DTLS header and body) in a plaintext handshake fragment; none is fragmented. */
function messagesOf(fragment: Uint8Array): Uint8Array[] {
  const messages: Uint8Array[] = [];
  for (let offset = 0; offset < fragment.length; ) {
    const length =
      ((fragment[offset + 1] as number) << 16) |
      ((fragment[offset + 2] as number) << 8) |
      (fragment[offset + 3] as number);
    const fragmentLength =
      ((fragment[offset + 9] as number) << 16) |
      ((fragment[offset + 10] as number) << 8) |
      (fragment[offset + 11] as number);
    expect(fragmentLength).toBe(length);
    messages.push(fragment.subarray(offset, offset + 12 + length));
    offset += 12 + length;
  }
  return messages;
}

/** The DTLS MAC header / AEAD additional data (RFC 6347 4.1.2.1): epoch || sequence, type, version, length. */
function additionalData(header: Uint8Array): (length: number) => Uint8Array {
  return (length) =>
    Uint8Array.of(...header.subarray(3, 11), header[0] as number, ...header.subarray(1, 3), length >> 8, length & 0xff);
}

const CAPTURES: Capture[] = [
  {
    suite: 0xc0a8,
    clientRandom: '4b0d44cf2efe6b522e649e9edcdca773d98d4b70d7fb22b8b2f3121ea1cd4da3',
    masterSecret: '5e3075107df1061d418bf879cc3d4ab45709268e024151321299e056043842ffc5445218757a090a094f7b2355c33e2f',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefd4b0d44cf2efe6b522e649e9edcdca773d98d4b70d7' +
          'fb22b8b2f3121ea1cd4da300000004c0a800ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff14b0b599c026eee18e2e8194fc4667006881be8e1f'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefd4b0d44cf2efe6b522e649e9edcdca773d98d4b70d7' +
          'fb22b8b2f3121ea1cd4da30014b0b599c026eee18e2e8194fc4667006881be8e1f0004c0a800ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefd327d3527357b03a664e24c41e42501d0a005357a74' +
          '3bc2b664f025938198ebf8201f2dd457f93eaefd7f359a6e4f8e0129a9f3195101f08af06bfdae448147469dc0a80000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd00010000000000000028000100000000000000447251b2aa7e4b330d92a1eebf10b15ebe2c17c811aabf4647e42f' +
          'c2963b80',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd000100000000000000280001000000000000eb8aaf7553d8f5c6a21c2f3b0f' +
          '2f78e2e2c2d7cf36335b655c10a1f93afc31a6',
      ],
      ['server', '17fefd000100000000000100150001000000000001b4393c0619d83c0a2487cc68e1'],
      ['client', '17fefd0001000000000001001500010000000000017d8c2b1d2f7090980b28551765'],
      ['client', '15fefd000100000000000200120001000000000002051883e6f865b952b9aa'],
    ],
  },
  {
    suite: 0xc0a4,
    clientRandom: 'a29c1c537a7f45b7d56d2a9cd37ebbfe1281b1b58e27b1f8fcfdfba79bfaa197',
    masterSecret: 'efcf28c6af1dcb195a5d62d3f6c188fbc80fa9014806030420c8c4218f293caf142a3f682904ae23445cf7ce1d29bcf9',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefda29c1c537a7f45b7d56d2a9cd37ebbfe1281b1b58e' +
          '27b1f8fcfdfba79bfaa19700000004c0a400ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff143b75e4f5602ae96eb9e00fa2b68f57f958f9903d'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefda29c1c537a7f45b7d56d2a9cd37ebbfe1281b1b58e' +
          '27b1f8fcfdfba79bfaa19700143b75e4f5602ae96eb9e00fa2b68f57f958f9903d0004c0a400ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefd0331308e3e0d12353e392abc8cc6f00a95c6ede686' +
          '3cd3a24520ec634d99f06320fe6d81af2e3899c8f24fd6fa60db7fcbc754d7e106fa0ff061930bd512271e80c0a40000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd000100000000000000300001000000000000faa321867f21b659e6597f0ec80d12ab7fed372696f4c0de2b5fb0d8' +
          'f613f18bbd4affec888f9c9a',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd000100000000000000300001000000000000566a0bd4d3ea532f11f1d81e0f' +
          '2430f3c607eb537641ba1d249ca4f33506dd961d5fc24d3a1d0e56',
      ],
      ['server', '17fefd0001000000000001001d000100000000000196c03a8f8135663e05989481eeb49be3103eb813f9'],
      ['client', '17fefd0001000000000001001d0001000000000001addbcb7d7b4d835445b2a86f579a6458761b6ab3f0'],
      ['client', '15fefd0001000000000002001a0001000000000002df155158262fb3de19e2c52c3913998c60c7'],
    ],
  },
  {
    suite: 0x00a8,
    clientRandom: '89fdebec22b3cbe2cb4d2f6c9fe95e48fd108c3f130a676a18db5ddbcef222b0',
    masterSecret: '1eaed204a99b347e7ab315f70848607d8016a278619995a2a2976dd7ca20360038bcd035eb1bc1830f0481d1f0f064fc',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefd89fdebec22b3cbe2cb4d2f6c9fe95e48fd108c3f13' +
          '0a676a18db5ddbcef222b00000000400a800ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff143c5c1bb93c5c210c5a0c6e5d2c75834a6c28589b'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefd89fdebec22b3cbe2cb4d2f6c9fe95e48fd108c3f13' +
          '0a676a18db5ddbcef222b000143c5c1bb93c5c210c5a0c6e5d2c75834a6c28589b000400a800ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefdacdebb1dfee05e53ac10989732dd79ae7d33f695f5' +
          '260c4856da3669a2d4f57220aa3c28481897b8bfe2cb6b3f69f3eae41a1d8c654c684763c00652205027432200a80000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd00010000000000000030cbcde0b6093e20fa721f3fa847ff215588697f9d1837d5c761bd1e3050477025a2042f36' +
          '201bf74061ebd965f8fc0899',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd00010000000000000030eece8abfdeffc6b340524c80f5a35d8a16efaf69ad' +
          'dd340b600e6f7da6d027e0a135004d4af4c273d3bd074ae31f7c81',
      ],
      ['server', '17fefd0001000000000001001deece8abfdeffc6b4e578d29096a005ae7b385f2aead0a1f9715714bb4a'],
      ['client', '17fefd0001000000000001001dcbcde0b6093e20fbe1a334ee95aabc6f302433887b84cdef1af03707ec'],
      ['client', '15fefd0001000000000002001acbcde0b6093e20fc70670e40a695499bf1eab6ccc78749585d4a'],
    ],
  },
  {
    suite: 0x00a9,
    clientRandom: '24a041f0cf51ba566f6bbc3df7a618d4eb3f29b970c17af0d700f516426a91a2',
    masterSecret: '9ef4dbd7889e9bbbaeeeb0027b8d97f63007bca4ad09b55da3be8300368edd68f053d6510dc142bded07809f0ca5f549',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefd24a041f0cf51ba566f6bbc3df7a618d4eb3f29b970' +
          'c17af0d700f516426a91a20000000400a900ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff149c3f90367c4c92f2cf8d12c4cf4f549b474e058d'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefd24a041f0cf51ba566f6bbc3df7a618d4eb3f29b970' +
          'c17af0d700f516426a91a200149c3f90367c4c92f2cf8d12c4cf4f549b474e058d000400a900ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefd5098a8dd5847602b4a06e14b725f52958fa914c9b0' +
          '443d439e0c114534dda46f204594cb736acb2b125f6805ae14bc3f5fb74127c3dd0777d01a73068734d3f1fe00a90000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd00010000000000000030eb78f19649669e4ec4409dcd654c8946be1906424642d486198e109b43b9574d10dd7e57' +
          'e6b3191aa20e39ebddfe94fd',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd0001000000000000003010a3946d97eb89809b9a49917b3e32f1cff2470928' +
          '17077238802071f80a9a0e3a0a1266e30667fc222a8fc6898a95c1',
      ],
      ['server', '17fefd0001000000000001001d10a3946d97eb8981f7982fb5fc59587982755a077fcfb75d1090914c48'],
      ['client', '17fefd0001000000000001001deb78f19649669e4fb63d68fb4d7b296babf33df5180440794b59129646'],
      ['client', '15fefd0001000000000002001aeb78f19649669e5067b80e5a8c6b4b3c76398841688dbaf4b1c2'],
    ],
  },
  {
    suite: 0x00ae,
    clientRandom: '666c4b7976075872f49085a37853caae2954f721426332065c01d6bbd2b2fa41',
    masterSecret: '07fdd5b4d5ed1fcd060a3666e076bf40e5e06e4ce724c8a4b4662424862435ed3570fe01c29babb0c123c44b07685efe',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefd666c4b7976075872f49085a37853caae2954f72142' +
          '6332065c01d6bbd2b2fa410000000400ae00ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff14bc478ca34e19ecfb24bbdc870c4062dded97e6f5'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefd666c4b7976075872f49085a37853caae2954f72142' +
          '6332065c01d6bbd2b2fa410014bc478ca34e19ecfb24bbdc870c4062dded97e6f5000400ae00ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefd5d3b063760c88050f2b6011ae6b14e984b6273fb9d' +
          '687374eaafc4f1a1de90cb204c22282a2099f301a18635b8c28fe5c93200530941c186e90687de54a641556900ae0000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd00010000000000000050f0c9027a17acbb1d985055da9a73eca9fec65ff3243a5f94a9ecb683a207d79bafc7d492' +
          'b6b563bd0c0c27ce4eaee333b1768f0584bec4b2b476f6e40e0d9a44543865c15ad035ca4a6856e37f8a6e77',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd0001000000000000005072fe4a93d89b4928ef556ffe6bc5d38fe6224d6283' +
          '71439e68ccfb20a5874b9cd49f381f7f54ea2afd6bc5d4fba47650ebb83e201afcaeae868d2aa935a56a911f08cbdae7' +
          'd6faaac40e17447e645877',
      ],
      [
        'server',
        '17fefd000100000000000100409f93cb3829ae5a547c3e13974fb4f688756fc81de38444e43154fd6f13d538a7e4cf4b' +
          '6177e27b73c302db97cd9f874265b5b699bcfe5e8bfb21309371fac24a',
      ],
      [
        'client',
        '17fefd00010000000000010040d47248de1a9f5abbdfd696b7fc16a234f9e2b3ce09fcfb3c56e6a340494fa9939175c5' +
          '304afd7c78dad4b4548f5b4769bfc3ad764a2c90fe548356f78a3a33c6',
      ],
      [
        'client',
        '15fefd00010000000000020040212fbe99103467733ad6e64c60be21fd20f9e2cb8809b348540f50d78e863dd809d1b4' +
          'f0fa1019e6e13d22026ece832d33ceaea5fce752b01c189734dd497a58',
      ],
    ],
  },
  {
    suite: 0x008c,
    clientRandom: 'b9fedf2f555b273fee2e39f029f25dc4cdacb77aa33cc97cd5764e64ba7d82a3',
    masterSecret: 'c22703c6e51b9fb9d54090eb265d88e9e6ee8cbeb4a664723ad1f17c16f5d7e1c9ceee5592e74f88a02eb297dac57c0c',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefdb9fedf2f555b273fee2e39f029f25dc4cdacb77aa3' +
          '3cc97cd5764e64ba7d82a300000004008c00ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff1403f765b335d0c16c5d6c745504b386d5fb150d51'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefdb9fedf2f555b273fee2e39f029f25dc4cdacb77aa3' +
          '3cc97cd5764e64ba7d82a3001403f765b335d0c16c5d6c745504b386d5fb150d510004008c00ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefd69675c35bd4cf2f7d98d9a77a6959efaf587391f73' +
          '00b245d5feada360040c022047eca72da7207a55f367ae64074f28510ea46674773bb09aab4f6f3f575f04ae008c0000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd000100000000000000406db48100d5f0dac127151f9670d0ff538b96d4bd3e04d35e9e528c3553353e80b792456c' +
          '4292ea1c9639ed9b623252273b5aa865829a7a690b4656436c21a29e',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd00010000000000000040ed6413c9d07cfeafd299ad25375906f082d79de5e3' +
          '20aef3019110666a521eb14c2cf47030cd861e02da9e8e38271b68640af71487edd3ae6e89b55b0f1896f6',
      ],
      [
        'server',
        '17fefd000100000000000100306e59783dff18bc0597ef69399c1d1b15f3bfcb07396c1d631b9683f0a3ffdbb8ddbac0' +
          'a321d1559c18ed13bd3b21542a',
      ],
      [
        'client',
        '17fefd0001000000000001003091004173a7bbe83adf457da4295f7b74b77b3f8fcc6d0e49013529e9462b9f7b5a338e' +
          'db550b6c07570c17bfed50e368',
      ],
      [
        'client',
        '15fefd0001000000000002003036cebffcfcf2adb1b46352db5b9c1a57b521dedc339b33ae273e5f884821e81965ba90' +
          'b339b5a4c6d9a7c599ce153b1d',
      ],
    ],
  },
  {
    suite: 0x008d,
    clientRandom: 'da33492abbb17a623a4dc12bd3a6209789ab6f4c083035427dbfbc0317e78a31',
    masterSecret: '4a5fc6f36e8e040b1a88ce60babbc2ca9b86bc70edb65c0dd550c0aa7c9c423913204ffdff1ca68070e19f9f9002f309',
    datagrams: [
      [
        'client',
        '16feff00000000000000000074010000680000000000000068fefdda33492abbb17a623a4dc12bd3a6209789ab6f4c08' +
          '3035427dbfbc0317e78a3100000004008d00ff0100003a002300000016000000170000000d002a002804030503060308' +
          '0708080809080a080b080408050806040105010601030303010302040205020602',
      ],
      ['server', '16feff00000000000000000023030000170000000000000017feff14e57b40743717d3bde8e087b0f8416f21e632c2e6'],
      [
        'client',
        '16feff000000000000000100880100007c000100000000007cfefdda33492abbb17a623a4dc12bd3a6209789ab6f4c08' +
          '3035427dbfbc0317e78a310014e57b40743717d3bde8e087b0f8416f21e632c2e60004008d00ff0100003a0023000000' +
          '16000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204' +
          '0205020602',
      ],
      [
        'server',
        '16fefd0000000000000001005d020000510001000000000051fefdf2e7fa2e483b909403d136bfd8f39fafa623f2877a' +
          'c627661ca116820f56bfa42037f3b324501c14d0d46b5f6dd8d2a6e7ced0761f12da2f7333691546538c8825008d0000' +
          '09ff010001000017000016fefd0000000000000002000c0e0000000002000000000000',
      ],
      [
        'client',
        '16fefd00000000000000020014100000080002000000000008000675706c696e6b14fefd000000000000000300010116' +
          'fefd00010000000000000040d31e2061551f8bab7a11460e87ccb45051e57895163aad4ac1c386403920863b67249176' +
          'ad3593824282828d8f20aa6a64cfda71e573db2044b78ad006b8c661',
      ],
      [
        'server',
        '14fefd000000000000000300010116fefd000100000000000000402f0ba91fecd9bba47361c9578d34d42e2dc1a6eae8' +
          '34e785ec0cc9f80fa4fae45b3f12f9c5e25aa76436c119cbdc336dd23d61a6ba55328775c33d33f9454194',
      ],
      [
        'server',
        '17fefd0001000000000001003055a9dfbae8e41c490af9f705427805bef2d3e8a3521a44508c9aa0e60b3d6470073c9a' +
          'b8cb2ddc7d39c3d79fe1671814',
      ],
      [
        'client',
        '17fefd000100000000000100306a5cb5202c0210d39a2d841a6ba4931165aaecfe7d8bba33fe755505011f7b4c4249f5' +
          '3d355e9d005d8ea756bd9c68ed',
      ],
      [
        'client',
        '15fefd000100000000000200308928962301cdf18b9894b1a8fa62cedd883541c6ed253e294fdcb729559f92ddf3b978' +
          '392d6a6521c71debe5261ec07c',
      ],
    ],
  },
];

describe('the key schedule and record protection against OpenSSL DTLS 1.2 connections', () => {
  it.each(CAPTURES.map((capture) => ({ name: suiteById(capture.suite)?.name, capture })))(
    '$name: PSK -> extended master secret -> keys -> Finished, data and alert records',
    ({ capture }) => {
      const suite = suiteById(capture.suite);
      if (!suite) throw new Error('unknown suite');
      const hash = suite.prfHash;
      const records = recordsOf(capture);

      // RFC 6347 4.2.1: the first ClientHello and the HelloVerifyRequest stay out of the handshake hash.
      let transcript = records.filter((r) => r.type === 22 && r.epoch === 0).flatMap((r) => messagesOf(r.fragment));
      const helloVerify = transcript.findIndex((message) => message[0] === 3);
      expect(helloVerify).toBe(1);
      transcript = transcript.slice(helloVerify + 1);
      const clientHello = transcript.find((message) => message[0] === 1);
      const serverHello = transcript.find((message) => message[0] === 2);
      const clientKeyExchange = transcript.findIndex((message) => message[0] === 16);
      if (!clientHello || !serverHello || clientKeyExchange < 0) throw new Error('incomplete handshake');
      transcript = transcript.slice(0, clientKeyExchange + 1);
      const clientRandom = clientHello.subarray(14, 46);
      const serverRandom = serverHello.subarray(14, 46);
      expect(hexOf(clientRandom)).toBe(capture.clientRandom);
      const transcriptHash = () => {
        const digest = createHash(hash);
        for (const message of transcript) digest.update(message);
        return Uint8Array.from(digest.digest());
      };

      const premaster = pskPremasterSecret(PSK);
      const master = extendedMasterSecret(hash, premaster, transcriptHash());
      expect(hexOf(master)).toBe(capture.masterSecret);
      // And the extension mattered: RFC 5246 8.1 alone gives another secret.
      expect(hexOf(masterSecret(hash, premaster, clientRandom, serverRandom))).not.toBe(capture.masterSecret);

      const keys = deriveKeyBlock(suite, master, clientRandom, serverRandom);
      const protections: Record<'client' | 'server', RecordProtection> = {
        client: createProtection(suite, keys.clientWriteKey, keys.clientWriteIv, keys.clientMacKey),
        server: createProtection(suite, keys.serverWriteKey, keys.serverWriteIv, keys.serverMacKey),
      };
      const seen: string[] = [];
      for (const record of records.filter((r) => r.epoch === 1)) {
        const protection = protections[record.from];
        const aad = additionalData(record.header);
        const plaintext = protection.open(aad, record.fragment);
        if (record.type === 22) {
          expect(plaintext[0]).toBe(20); // Finished
          const label = record.from === 'client' ? 'client finished' : 'server finished';
          expect(hexOf(plaintext.subarray(12))).toBe(hexOf(finishedVerifyData(hash, master, label, transcriptHash())));
          transcript.push(plaintext);
          seen.push(`${record.from} finished`);
        } else {
          seen.push(`${record.from} ${record.type} ${Buffer.from(plaintext).toString('latin1')}`);
        }
        if (suite.macAlgorithm === null) {
          // The explicit nonce is the sender's choice: OpenSSL sends epoch || sequence with CCM (RFC 6655 3) and a
          // counter from a random start with GCM (RFC 5288 3 allows both). Sealing is deterministic either way.
          if (suite.cipher === 'aes-128-ccm') {
            expect(hexOf(record.fragment.subarray(0, 8))).toBe(hexOf(record.header.subarray(3, 11)));
          }
          expect(hexOf(protection.seal(aad, record.fragment.subarray(0, 8), plaintext))).toBe(hexOf(record.fragment));
        } else {
          expect(hexOf(protection.open(aad, protection.seal(aad, new Uint8Array(8), plaintext)))).toBe(
            hexOf(plaintext),
          );
        }
      }
      expect(seen.sort()).toEqual([
        'client 21 \x01\x00',
        'client 23 ping\n',
        'client finished',
        'server 23 pong\n',
        'server finished',
      ]);
    },
  );
});
