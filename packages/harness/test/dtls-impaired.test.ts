// DTLS handshakes over an impaired network: loss, duplication and reordering between client and server, which
// RFC 6347 4.2.4 answers with flight retransmission (a timer on the side waiting for an answer, a resend of the last
// flight when the peer repeats its own). This package's client, OpenSSL's s_client and a fleet of flap-dtls devices
// go through createImpairedProxy to @uplink/dtls's server.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { createMemoryStorage, scheduleDownlink, uuidv7 } from '@uplink/core';
import { createFlapDtlsServer } from '@uplink/core/dtls';
import { connectDtls, createDtlsServer, type DtlsConnection } from '@uplink/dtls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectFlapDtls,
  createImpairedProxy,
  type FlapDevice,
  type ImpairedProxy,
  type ImpairedProxyOptions,
} from '../src/index.js';

const CODECS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/codec-hash',
);
const clime = loadCodec(readFileSync(join(CODECS, 'clime.decoder.yaml'), 'utf8'));

const KEY_HEX = '7a3c5e0f1d2b4a6987c5e3f1a2b4c6d8';
const KEY = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'));
const IDENTITY = 'hsn:2159017985';
/** Fast timers for loopback: 50 ms doubled up to 400 ms, ten times (RFC 6347's 1 s would make the test slow). */
const RETRANSMIT = { initialMs: 50, maxMs: 400, maxRetransmits: 10 };
// Without impairment a full PSK handshake is three datagrams each way: ClientHello / HelloVerifyRequest, ClientHello
// with the cookie / ServerHello..ServerHelloDone, ClientKeyExchange+CCS+Finished / CCS+Finished.
const CLEAN_HANDSHAKE_DATAGRAMS = 3;

const OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** A DTLS server that echoes every datagram, and a proxy in front of it. */
async function echoBehindProxy(impairment: Omit<ImpairedProxyOptions, 'target'>) {
  const server = createDtlsServer({
    psk: (identity) => (identity === IDENTITY ? KEY : undefined),
    retransmit: RETRANSMIT,
    // Every client comes from the proxy's address.
    limits: { maxHandshakesPerAddress: 64 },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const accepted: DtlsConnection[] = [];
  server.on('secureConnection', (connection) => {
    accepted.push(connection);
    connection.on('error', () => {});
    connection.on('data', (data: Uint8Array) => {
      if (connection.state === 'established') connection.send(data);
    });
  });
  const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port }, ...impairment });
  cleanup.push(
    () => server.close(),
    () => proxy.close(),
  );
  return { server, port, proxy, accepted };
}

/** Sends `payload` until its echo comes back (application data is not retransmitted by DTLS); resolves to the tries. */
async function roundTrip(connection: DtlsConnection, payload: Uint8Array, timeoutMs = 80, tries = 40): Promise<number> {
  const expected = Buffer.from(payload);
  for (let attempt = 1; attempt <= tries; attempt++) {
    const echoed = new Promise<boolean>((done) => {
      const timer = setTimeout(() => {
        connection.off('data', onData);
        done(false);
      }, timeoutMs);
      const onData = (data: Uint8Array) => {
        if (!expected.equals(data)) return;
        clearTimeout(timer);
        connection.off('data', onData);
        done(true);
      };
      connection.on('data', onData);
    });
    connection.send(payload);
    if (await echoed) return attempt;
  }
  throw new Error(`no echo of ${expected.toString()} after ${tries} tries`);
}

/** What the proxy saw: datagrams each side sent beyond those of a clean handshake are retransmissions. */
function handshakeTraffic(proxy: ImpairedProxy, handshakes: number) {
  const { upstream, downstream } = proxy.stats;
  return {
    clientDatagrams: upstream.received,
    serverDatagrams: downstream.received,
    retransmissions: upstream.received + downstream.received - 2 * CLEAN_HANDSHAKE_DATAGRAMS * handshakes,
    dropped: upstream.dropped + downstream.dropped,
    duplicated: upstream.duplicated + downstream.duplicated,
    reordered: upstream.reordered + downstream.reordered,
  };
}

describe('DTLS handshakes through an impaired network complete by retransmission (RFC 6347 4.2.4)', () => {
  it("20 handshakes of this package's client with 20% loss, 10% duplication and 20% reordering each way, then data", async () => {
    const HANDSHAKES = 20;
    const { server, proxy, accepted } = await echoBehindProxy({
      loss: 0.2,
      duplicate: 0.1,
      reorder: 0.2,
      // Longer than the first retransmission timer: a held flight is overtaken by its own retransmission.
      reorderDelayMs: 60,
      jitterMs: 3,
      seed: 6347,
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: HANDSHAKES }, (_, index) =>
        connectDtls({
          host: proxy.address.host,
          port: proxy.address.port,
          identity: IDENTITY,
          psk: KEY,
          retransmit: RETRANSMIT,
          // Half of them as devices do: CCM_8 and a Connection ID with an empty own CID.
          ...(index % 2 === 0 ? { cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'], connectionId: new Uint8Array(0) } : {}),
          timeoutMs: 8000,
        }),
      ),
    );
    const connections = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    cleanup.push(() => {
      for (const connection of connections) connection.close();
    });
    const traffic = handshakeTraffic(proxy, HANDSHAKES);
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String(outcome.reason)] : []));
    expect(failures).toEqual([]);
    expect(server.stats).toMatchObject({ handshakesCompleted: HANDSHAKES, handshakesFailed: 0 });
    // The network did its part, and the handshakes got through because flights were sent again.
    expect(traffic.dropped).toBeGreaterThan(5);
    expect(traffic.duplicated).toBeGreaterThan(2);
    expect(traffic.reordered).toBeGreaterThan(2);
    expect(traffic.retransmissions).toBeGreaterThan(0);

    const tries = await Promise.all(
      connections.map((connection, index) => roundTrip(connection, new TextEncoder().encode(`datagram ${index}`))),
    );
    expect(accepted.map((connection) => connection.identity)).toEqual(Array(HANDSHAKES).fill(IDENTITY));
    console.log(
      `dtls-impaired (client of this package): ${JSON.stringify({
        handshakes: `${connections.length}/${HANDSHAKES}`,
        ...traffic,
        helloVerifyRequests: server.stats.helloVerifyRequests,
        handshakesStarted: server.stats.handshakesStarted,
        serverDropped: server.stats.dropped,
        dataTries: tries.reduce((sum, n) => sum + n, 0),
      })}`,
    );
  }, 15_000);

  it('a late copy of the ClientHello that made an association does not end it (found by the test above)', async () => {
    // A retransmitted ClientHello can cross the server's flight and arrive after the handshake is done; the server
    // used to take it for a new client, destroy the established association and start a handshake nobody finishes.
    const { server, port } = await echoBehindProxy({});
    const socket = createSocket('udp4');
    const sent: Buffer[] = [];
    socket.on('message', () => {});
    const send = socket.send.bind(socket);
    const connection = await connectDtls({
      host: '127.0.0.1',
      port,
      identity: IDENTITY,
      psk: KEY,
      socket: Object.assign(socket, {
        send: ((datagram: Uint8Array, ...rest: never[]) => {
          sent.push(Buffer.from(datagram));
          return send(datagram, ...rest);
        }) as typeof socket.send,
      }),
    });
    cleanup.push(() => connection.close());
    // The second ClientHello, the one with the cookie (record type 22, handshake type 1, message_seq 1).
    const hello = sent.find((datagram) => datagram[0] === 22 && datagram[13] === 1 && datagram.readUInt16BE(17) === 1);
    expect(hello).toBeDefined();
    await new Promise<void>((done) => send(hello as Buffer, port, '127.0.0.1', () => done()));
    expect(await roundTrip(connection, Uint8Array.of(1, 2, 3))).toBe(1);
    expect(server.stats).toMatchObject({ handshakesStarted: 1, handshakesCompleted: 1 });
    expect(server.connections.map((c) => c.state)).toEqual(['established']);
  });

  describe.skipIf(!OPENSSL)(
    `OpenSSL s_client through the proxy${OPENSSL ? '' : ' (skipped: openssl is not installed)'}`,
    () => {
      const children: ChildProcess[] = [];
      afterEach(() => {
        for (const child of children.splice(0)) child.kill('SIGKILL');
      });

      /** Runs s_client until the handshake is done and a line came back; resolves to how long it took. */
      function opensslRun(proxy: ImpairedProxy, line: string): Promise<number> {
        const started = Date.now();
        return new Promise((resolvePromise, reject) => {
          const child = spawn(
            'openssl',
            [
              's_client',
              '-dtls1_2',
              '-connect',
              `${proxy.address.host}:${proxy.address.port}`,
              '-psk_identity',
              IDENTITY,
              '-psk',
              KEY_HEX,
              '-cipher',
              'PSK-AES128-CCM8',
            ],
            { stdio: ['pipe', 'pipe', 'pipe'] },
          );
          children.push(child);
          let output = '';
          let resend: NodeJS.Timeout | undefined;
          const timer = setTimeout(() => {
            clearInterval(resend);
            child.kill('SIGKILL');
            reject(new Error(`openssl s_client: no echo in 8 s; output:\n${output}`));
          }, 8000);
          const onData = (chunk: Buffer) => {
            output += chunk.toString();
            if (resend === undefined && /Cipher is/.test(output)) {
              // The line may be lost too: type it again until it comes back.
              child.stdin?.write(`${line}\n`);
              resend = setInterval(() => child.stdin?.write(`${line}\n`), 250);
            }
            if (output.includes(line)) {
              clearTimeout(timer);
              clearInterval(resend);
              child.kill('SIGKILL');
              resolvePromise(Date.now() - started);
            }
          };
          child.stdout?.on('data', onData);
          child.stderr?.on('data', onData);
          child.on('error', reject);
        });
      }

      it('handshakes with 15% loss, 10% duplication and 20% reordering each way, then data (a few runs: its timer is 1 s)', async () => {
        const { server, proxy, accepted } = await echoBehindProxy({ seed: 1 });
        // A clean run first: how many datagrams a handshake and a line take with OpenSSL.
        await opensslRun(proxy, 'line-clean');
        const clean = { up: proxy.stats.upstream.received, down: proxy.stats.downstream.received };
        proxy.setImpairment({ loss: 0.15, duplicate: 0.1, reorder: 0.2, jitterMs: 3 });
        const RUNS = 3;
        const durations: number[] = [];
        for (let run = 0; run < RUNS; run++) durations.push(await opensslRun(proxy, `line-impaired-${run}`));
        const { upstream, downstream } = proxy.stats;
        expect(server.stats).toMatchObject({ handshakesCompleted: RUNS + 1, handshakesFailed: 0 });
        expect(accepted.slice(1).map((c) => c.cipherSuite)).toEqual(Array(RUNS).fill('TLS_PSK_WITH_AES_128_CCM_8'));
        expect(upstream.dropped + downstream.dropped).toBeGreaterThan(0);
        console.log(
          `dtls-impaired (openssl s_client): ${JSON.stringify({
            handshakes: `${RUNS}/${RUNS}`,
            cleanRun: clean,
            impairedDatagrams: { up: upstream.received - clean.up, down: downstream.received - clean.down },
            dropped: upstream.dropped + downstream.dropped,
            duplicated: upstream.duplicated + downstream.duplicated,
            reordered: upstream.reordered + downstream.reordered,
            durationsMs: durations,
            serverDropped: server.stats.dropped,
          })}`,
        );
      }, 30_000);
    },
  );

  it('a fleet of flap-dtls devices stores every acked message exactly once through loss, duplication, reordering and NAT rebinding', async () => {
    const storage = createMemoryStorage();
    const server = createFlapDtlsServer({
      storage,
      host: '127.0.0.1',
      port: 0,
      dtls: { retransmit: RETRANSMIT },
    });
    const { port } = await server.listen();
    const proxy = await createImpairedProxy({
      target: { host: '127.0.0.1', port },
      loss: 0.1,
      duplicate: 0.1,
      reorder: 0.1,
      jitterMs: 4,
      // NAT rebinding too, after the handshake (a handshake is some 3 to 10 datagrams): the CID carries the session.
      rebindEvery: 25,
      seed: 9146,
    });
    cleanup.push(
      () => server.close(),
      () => proxy.close(),
    );
    const DEVICES = 8;
    const MESSAGES = 40;
    const registered = await Promise.all(
      Array.from({ length: DEVICES }, async (_, index) => {
        const psk = Uint8Array.from({ length: 16 }, (_, i) => (index * 31 + i * 7) & 0xff);
        const serialNumber = 2_159_000_000 + index;
        const device = await storage.createDevice({
          id: uuidv7(),
          serialNumber,
          claimToken: new Uint8Array(16),
          psk,
          name: `clime-${index}`,
          tags: [],
          labels: {},
          tenant: { spaceId: 's', groupId: 'g' },
        });
        return { device, psk };
      }),
    );
    const clients: FlapDevice[] = [];
    cleanup.push(() => {
      for (const client of clients) client.close();
    });
    const received = await Promise.all(
      registered.map(async ({ device, psk }) => {
        const client = await connectFlapDtls({
          host: proxy.address.host,
          port: proxy.address.port,
          serial: device.serialNumber,
          psk,
          retransmit: RETRANSMIT,
          timeoutMs: 60,
          retries: 20,
        });
        clients.push(client);
        await client.boot({ vendor: 'HARDWARIO' });
        await client.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
        await scheduleDownlink({ storage }, device.id, { kind: 'shell', commands: [`app config show ${device.name}`] });
        const downlinks = [];
        for (let i = 0; i < MESSAGES; i++) {
          const cbor = clime.encode({ message: { sequence: i }, thermometer: { temperature: 20 + i / 10 } });
          if (await client.send({ type: 'upload-data', hash: clime.hash, cbor }))
            downlinks.push(...(await client.poll()));
        }
        return { device, client, downlinks };
      }),
    );
    for (const { device, client, downlinks } of received) {
      const stored = (await storage.listMessages({ deviceId: device.id, type: 'data', limit: 1000 })).items;
      expect(stored.every((m) => m.error === undefined)).toBe(true);
      const sequences = stored
        .map((m) => (m.body as { message: { sequence: number } }).message.sequence)
        .sort((a, b) => a - b);
      expect(sequences, device.name).toEqual([...Array(MESSAGES).keys()]);
      expect((await storage.listMessages({ deviceId: device.id, type: 'decoder' })).items).toHaveLength(1);
      expect(downlinks.filter((d) => d.type === 'download-shell').length).toBeGreaterThanOrEqual(1);
      expect((await storage.listDownlinks(device.id)).map((d) => d.state)).toEqual(['acknowledged']);
      expect(client.stats.resent).toBeGreaterThan(0);
    }
    // One handshake per device, each through the impaired network, and no other whatever the rebindings.
    expect(server.dtls.stats).toMatchObject({ handshakesStarted: DEVICES, handshakesCompleted: DEVICES });
    expect(proxy.stats.rebinds).toBeGreaterThan(DEVICES);
    const { upstream, downstream } = proxy.stats;
    expect(upstream.dropped + downstream.dropped).toBeGreaterThan(5);
    expect(upstream.duplicated + downstream.duplicated).toBeGreaterThan(5);
    expect(upstream.reordered + downstream.reordered).toBeGreaterThan(5);
    // A lost reply makes the device resend the same packet: the server answers from its cache.
    expect(server.stats.resends + server.stats.duplicates).toBeGreaterThan(0);
    console.log(
      `dtls-impaired (flap-dtls fleet): ${JSON.stringify({
        proxy: proxy.stats,
        dtls: server.dtls.stats,
        flap: server.counters,
        engine: server.stats,
        resent: received.reduce((n, r) => n + r.client.stats.resent, 0),
      })}`,
    );
  }, 20_000);
});
