// NAT rebinding and DTLS Connection ID (RFC 9146): the proxy gives the client a new source port every few datagrams.
// With a CID the server finds the association by it and moves the peer's address to the new port (RFC 9146 6): one
// handshake, data both ways. Without one the server routes by address, so records from the new port belong to no
// association and are dropped: the device must handshake again. This is why CHESTER firmware uses CIDs.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { createMemoryStorage, uuidv7 } from '@uplink/core';
import { createFlapDtlsServer } from '@uplink/core/dtls';
import { connectDtls, createDtlsServer, type DtlsConnection, type DtlsPeer } from '@uplink/dtls';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFlapDtls, createImpairedProxy, type FlapDevice } from '../src/index.js';

const CODECS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/codec-hash',
);
const clime = loadCodec(readFileSync(join(CODECS, 'clime.decoder.yaml'), 'utf8'));
const KEY = Uint8Array.from(Buffer.from('7a3c5e0f1d2b4a6987c5e3f1a2b4c6d8', 'hex'));
const IDENTITY = 'hsn:2159017985';
/** A full handshake is three datagrams from the client: the first rebinding comes after it. */
const REBIND_EVERY = 4;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** An echo server behind a proxy that rebinds every REBIND_EVERY datagrams; records every rebinding it follows. */
async function start() {
  const server = createDtlsServer({ psk: (identity) => (identity === IDENTITY ? KEY : undefined) });
  const { port } = await server.listen(0, '127.0.0.1');
  const accepted: DtlsConnection[] = [];
  const rebinds: { from: number; to: number }[] = [];
  server.on('secureConnection', (connection) => {
    accepted.push(connection);
    connection.on('error', () => {});
    connection.on('rebind', (previous: DtlsPeer, next: DtlsPeer) =>
      rebinds.push({ from: previous.port, to: next.port }),
    );
    connection.on('data', (data: Uint8Array) => connection.send(data));
  });
  const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port }, rebindEvery: REBIND_EVERY, seed: 1 });
  cleanup.push(
    () => server.close(),
    () => proxy.close(),
  );
  return { server, port, proxy, accepted, rebinds };
}

/** The next datagram the connection reads, or undefined after `timeoutMs`. */
function next(connection: DtlsConnection, timeoutMs = 300): Promise<Uint8Array | undefined> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      connection.off('data', onData);
      done(undefined);
    }, timeoutMs);
    const onData = (data: Uint8Array) => {
      clearTimeout(timer);
      done(data);
    };
    connection.once('data', onData);
  });
}

async function echo(connection: DtlsConnection, text: string): Promise<string | undefined> {
  const reply = next(connection);
  connection.send(new TextEncoder().encode(text));
  const data = await reply;
  return data && Buffer.from(data).toString();
}

describe('NAT rebinding with and without a DTLS Connection ID', () => {
  it('with a CID the association survives every new source port: one handshake, data both ways, the peer address follows', async () => {
    const { server, proxy, accepted, rebinds } = await start();
    const connection = await connectDtls({
      host: proxy.address.host,
      port: proxy.address.port,
      identity: IDENTITY,
      psk: KEY,
      connectionId: new Uint8Array(0),
    });
    cleanup.push(() => connection.close());
    expect(connection.peerConnectionId).toHaveLength(6);
    const [accepted0] = accepted;
    const ports = [accepted0?.remotePort];
    for (let i = 0; i < 30; i++) {
      expect(await echo(connection, `datagram ${i}`)).toBe(`datagram ${i}`);
      if (accepted0?.remotePort !== ports.at(-1)) ports.push(accepted0?.remotePort);
    }
    // The server speaks first after the last rebinding: it reaches the client at its newest address.
    const unprompted = next(connection);
    accepted0?.send(new TextEncoder().encode('from the server'));
    expect(Buffer.from((await unprompted) ?? []).toString()).toBe('from the server');

    // 3 handshake datagrams + 30 = 33 upstream: rebinding before the 5th, 9th, ... 33rd.
    expect(proxy.stats.rebinds).toBe(Math.floor((3 + 30 - 1) / REBIND_EVERY));
    expect(rebinds).toHaveLength(proxy.stats.rebinds);
    expect(new Set(ports).size).toBe(proxy.stats.rebinds + 1);
    expect(rebinds.map((r) => r.to)).toEqual(ports.slice(1));
    expect(server.stats).toMatchObject({ handshakesStarted: 1, handshakesCompleted: 1 });
    expect(server.stats.dropped).toEqual({
      garbage: 0,
      'unknown-cid': 0,
      'no-connection': 0,
      'bad-cookie': 0,
      limit: 0,
    });
    expect(server.connections).toHaveLength(1);
    console.log(
      `dtls-rebinding (CID): ${JSON.stringify({ rebinds: proxy.stats.rebinds, ports, server: server.stats })}`,
    );
  });

  it('without a CID the first new source port ends the association: records from it are dropped (no-connection)', async () => {
    const { server, proxy, accepted, rebinds } = await start();
    const connection = await connectDtls({
      host: proxy.address.host,
      port: proxy.address.port,
      identity: IDENTITY,
      psk: KEY,
    });
    cleanup.push(() => connection.close());
    expect(connection.peerConnectionId).toBeUndefined();
    const firstPort = accepted[0]?.remotePort;
    // The 4th upstream datagram goes out from the handshake's port, the 5th from a new one.
    expect(await echo(connection, 'before')).toBe('before');
    expect(await echo(connection, 'after')).toBeUndefined();
    expect(await echo(connection, 'again')).toBeUndefined();
    expect(proxy.stats.rebinds).toBe(1);
    expect(server.stats.dropped['no-connection']).toBe(2);
    expect(rebinds).toEqual([]);
    // The server still holds the association at the old address, where nothing will come again.
    expect(accepted[0]?.remotePort).toBe(firstPort);
    expect(accepted[0]?.state).toBe('established');

    // Only a new full handshake from the new address gets the client through again.
    const again = await connectDtls({
      host: proxy.address.host,
      port: proxy.address.port,
      identity: IDENTITY,
      psk: KEY,
    });
    cleanup.push(() => again.close());
    expect(await echo(again, 'new association')).toBe('new association');
    expect(server.stats).toMatchObject({ handshakesStarted: 2, handshakesCompleted: 2 });
    console.log(`dtls-rebinding (no CID): ${JSON.stringify({ rebinds: proxy.stats.rebinds, server: server.stats })}`);
  });

  it('a flap-dtls device keeps its session through 20 rebindings; without a CID it times out after the first', async () => {
    const storage = createMemoryStorage();
    const serialNumber = 2_159_017_985;
    const device = await storage.createDevice({
      id: uuidv7(),
      serialNumber,
      claimToken: new Uint8Array(16),
      psk: KEY,
      name: 'clime-1',
      tags: [],
      labels: {},
      tenant: { spaceId: 's', groupId: 'g' },
    });
    const server = createFlapDtlsServer({ storage, host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port }, rebindEvery: 3, seed: 2 });
    cleanup.push(
      () => server.close(),
      () => proxy.close(),
    );
    const devices: FlapDevice[] = [];
    cleanup.push(() => {
      for (const d of devices) d.close();
    });
    const options = { host: proxy.address.host, port: proxy.address.port, serial: serialNumber, psk: KEY };
    const client = await connectFlapDtls({ ...options, timeoutMs: 200, retries: 0 });
    devices.push(client);
    await client.boot();
    await client.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
    for (let i = 0; i < 50; i++)
      await client.send({ type: 'upload-data', hash: clime.hash, cbor: clime.encode({ message: { sequence: i } }) });
    expect(proxy.stats.rebinds).toBeGreaterThanOrEqual(20);
    expect(client.stats.resent).toBe(0);
    expect((await storage.listMessages({ deviceId: device.id, type: 'data', limit: 100 })).items).toHaveLength(50);
    expect(server.dtls.stats).toMatchObject({ handshakesStarted: 1, handshakesCompleted: 1 });
    const rebinds = proxy.stats.rebinds;

    const withoutCid = await connectFlapDtls({ ...options, connectionId: false, timeoutMs: 100, retries: 2 });
    devices.push(withoutCid);
    // The handshake's 3 datagrams, then the proxy rebinds: CREATE_SESSION comes from a new port, no ack comes.
    await expect(withoutCid.boot()).rejects.toMatchObject({ code: 'HARNESS_TIMEOUT' });
    expect(server.dtls.stats.dropped['no-connection']).toBeGreaterThan(0);
    expect(server.dtls.stats.handshakesCompleted).toBe(2);
    console.log(
      `dtls-rebinding (flap-dtls): ${JSON.stringify({ rebindsWithCid: rebinds, dtls: server.dtls.stats, flap: server.counters })}`,
    );
  });
});
