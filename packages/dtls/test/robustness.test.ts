// What an attacker or a broken network can throw at the server: random and mutated datagrams at every handshake
// state (no crash, no unbounded state, no hang: the handshake completes or fails with a DtlsError), garbage that
// costs nothing and creates no state, the limits on handshakes in progress, and a Connection ID record built byte
// by byte from RFC 9146's text.
import { createCipheriv } from 'node:crypto';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDtls } from '../src/client.js';
import { createProtection } from '../src/crypto/protection.js';
import { suiteById } from '../src/crypto/suites.js';
import { DtlsError } from '../src/errors.js';
import {
  ContentType,
  cidAdditionalData,
  DTLS_1_2,
  innerPlaintext,
  sequenceNumberBytes,
  writeRecord,
} from '../src/record.js';
import { createDtlsServer, type DtlsServer } from '../src/server.js';

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const IDENTITY = 'hsn:1';
let server: DtlsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function listen(options: Partial<Parameters<typeof createDtlsServer>[0]> = {}) {
  server = createDtlsServer({ psk: (identity) => (identity === IDENTITY ? KEY : undefined), ...options });
  server.on('connectionError', () => {});
  server.on('secureConnection', (connection) => {
    connection.on('error', () => {});
    connection.on('data', (data: Uint8Array) => connection.send(data));
  });
  return (await server.listen(0, '127.0.0.1')).port;
}

/** A mutation of a datagram: flipped bits, cut, grown, a byte set, records doubled, or random bytes. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('double' as const) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 300 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(datagram: Uint8Array, m: Mutation): Uint8Array {
  const copy = datagram.slice();
  switch (m.kind) {
    case 'flip':
      if (copy.length > 0) copy[m.at % copy.length] = (copy[m.at % copy.length] as number) ^ (1 << m.bit);
      return copy;
    case 'cut':
      return copy.subarray(0, m.at % (copy.length + 1));
    case 'grow':
      return Uint8Array.from([...copy, ...m.extra]);
    case 'set':
      if (copy.length > 0) copy[m.at % copy.length] = m.value;
      return copy;
    case 'double':
      return Uint8Array.from([...copy, ...copy]);
    case 'random':
      return m.bytes;
  }
}

describe('DTLS server robustness', () => {
  it('mutated datagrams injected before each real one, at every handshake state: no crash; a handshake completes or fails with a DtlsError', async () => {
    const port = await listen({ retransmit: { initialMs: 40, maxRetransmits: 4 } });
    const outcomes = { completed: 0, failed: 0, injected: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(mutation, { maxLength: 3 }), { minLength: 8, maxLength: 8 }), async (plan) => {
        const socket = createSocket('udp4');
        const send = socket.send.bind(socket) as (datagram: Uint8Array, port: number, host: string) => void;
        let step = 0;
        // Every datagram the client sends is preceded by mutated copies of itself, from the same address.
        (socket as unknown as { send: typeof send }).send = (datagram, toPort, host) => {
          // node:dgram calls send again itself (with a list) once the socket is bound: pass that through.
          if (!(datagram instanceof Uint8Array)) return send(datagram, toPort, host);
          for (const m of plan[Math.min(step, plan.length - 1)] ?? []) {
            outcomes.injected++;
            send(mutate(datagram, m), toPort, host);
          }
          step++;
          send(datagram, toPort, host);
        };
        try {
          const connection = await connectDtls({
            host: '127.0.0.1',
            port,
            identity: IDENTITY,
            psk: KEY,
            socket,
            connectionId: new Uint8Array(0),
            retransmit: { initialMs: 40, maxRetransmits: 4 },
            timeoutMs: 3000,
          });
          connection.on('error', () => {});
          const echoed = new Promise<Uint8Array | undefined>((resolve) => {
            const timer = setTimeout(() => resolve(undefined), 1000);
            connection.once('data', (data: Uint8Array) => {
              clearTimeout(timer);
              resolve(data);
            });
          });
          connection.send(Uint8Array.of(7, 7, 7));
          const data = await echoed;
          // A mutated copy of the data record is dropped (bad MAC); the real one is echoed.
          if (data) expect([...data]).toEqual([7, 7, 7]);
          outcomes.completed++;
          connection.close();
        } catch (error) {
          expect(error).toBeInstanceOf(DtlsError);
          outcomes.failed++;
        } finally {
          socket.close();
        }
      }),
      { numRuns: 40, interruptAfterTimeLimit: 15_000 },
    );
    // Whatever happened, nothing is left half open for long: failed handshakes are gone.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server?.connections.filter((c) => c.state === 'handshake').length ?? 0).toBeLessThanOrEqual(1);
    expect(server?.stats.handshakesCompleted).toBeGreaterThan(0);
    // The property really injected mutations, and most handshakes survive them (bad records are dropped).
    expect(outcomes.injected).toBeGreaterThan(40);
    expect(outcomes.completed).toBeGreaterThan(outcomes.failed);
  }, 60_000);

  it('random datagrams from many addresses create no state and cost a lookup each', async () => {
    const port = await listen();
    void port;
    const dtls = server as DtlsServer;
    await fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.constantFrom(20, 21, 22, 23, 25, 0, 255),
        (bytes, sourcePort, type) => {
          const datagram = bytes.length > 0 ? Uint8Array.from([type, ...bytes.subarray(1)]) : bytes;
          dtls.handleDatagram(datagram, {
            address: `10.0.${sourcePort >> 8}.${sourcePort & 255}`,
            port: sourcePort,
            family: 'IPv4',
          });
        },
      ),
      { numRuns: 5000 },
    );
    expect(dtls.connections).toHaveLength(0);
    const { dropped, datagrams, helloVerifyRequests } = dtls.stats;
    expect(datagrams).toBe(5000);
    expect(dropped.garbage + dropped['unknown-cid'] + dropped['no-connection'] + helloVerifyRequests).toBe(5000);
  });

  it('bounds handshakes in progress, per address and in all', async () => {
    // A PSK lookup that never answers keeps each handshake in progress.
    const port = await listen({
      psk: () => new Promise<undefined>(() => {}),
      limits: { maxHandshakes: 3, maxHandshakesPerAddress: 2, handshakeTimeoutMs: 60_000 },
      retransmit: { initialMs: 5000 },
    });
    const attempts = Array.from({ length: 4 }, () =>
      connectDtls({
        host: '127.0.0.1',
        port,
        identity: IDENTITY,
        psk: KEY,
        timeoutMs: 700,
        retransmit: { initialMs: 5000 },
      }).catch((error: unknown) => error),
    );
    const results = await Promise.all(attempts);
    expect(results.every((r) => r instanceof DtlsError && r.code === 'DTLS_TIMEOUT')).toBe(true);
    expect(server?.stats.handshakesStarted).toBe(2);
    expect(server?.stats.dropped.limit).toBeGreaterThanOrEqual(2);
  });
});

describe('Connection ID records (RFC 9146), built byte by byte from the RFC text', () => {
  it('a tls12_cid record of TLS_PSK_WITH_AES_128_CCM_8 matches a hand-made one', () => {
    const suite = suiteById(0xc0a8);
    if (!suite) throw new Error('CCM_8 missing');
    const key = Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
    const salt = Uint8Array.from(Buffer.from('a0a1a2a3', 'hex'));
    const cid = Uint8Array.from(Buffer.from('c1c2c3c4c5c6', 'hex'));
    const epoch = 1;
    const sequence = 5;
    const content = new TextEncoder().encode('hello');
    // RFC 9146 4: DTLSInnerPlaintext = content || real_type (23) || zeros (none here).
    const inner = Uint8Array.from([...content, 23]);
    // RFC 9146 5: additional_data = seq_num_placeholder (8 x ff) || tls12_cid (25) || cid_length (6) || tls12_cid
    // (25) || DTLSCiphertext.version (fe fd) || epoch (00 01) || sequence_number (00 00 00 00 00 05) || cid ||
    // length_of_DTLSInnerPlaintext (00 06).
    const aad = Buffer.from(
      'ffffffffffffffff' + '19' + '06' + '19' + 'fefd' + '0001' + '000000000005' + 'c1c2c3c4c5c6' + '0006',
      'hex',
    );
    // RFC 6655 3 / RFC 7925: nonce = salt (4) || explicit nonce (epoch || sequence, 8); tag 8 bytes.
    const explicit = Buffer.from('0001000000000005', 'hex');
    const cipher = createCipheriv('aes-128-ccm', key, Buffer.concat([salt, explicit]), { authTagLength: 8 });
    cipher.setAAD(aad, { plaintextLength: inner.length });
    const sealed = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
    // RFC 9146 4: type 25 || version || epoch || sequence_number || cid || length || encrypted_record.
    const fragment = Buffer.concat([explicit, sealed]);
    const expected = Buffer.concat([
      Buffer.from('19fefd0001000000000005', 'hex'),
      cid,
      Buffer.from([fragment.length >> 8, fragment.length & 0xff]),
      fragment,
    ]);

    const protection = createProtection(suite, key, salt, new Uint8Array(0));
    const ours = writeRecord({
      type: ContentType.tls12Cid,
      version: DTLS_1_2,
      epoch,
      sequence,
      cid,
      fragment: protection.seal(
        (length) => cidAdditionalData({ version: DTLS_1_2, epoch, sequence, cid }, length),
        sequenceNumberBytes(epoch, sequence),
        innerPlaintext(content, ContentType.applicationData),
      ),
    });
    expect(Buffer.from(ours).toString('hex')).toBe(expected.toString('hex'));
    // And back: our open() takes the hand-made record's fragment.
    const opened = protection.open(
      (length) => cidAdditionalData({ version: DTLS_1_2, epoch, sequence, cid }, length),
      new Uint8Array(fragment),
    );
    expect(Buffer.from(opened).toString('hex')).toBe(Buffer.from(inner).toString('hex'));
  });
});
