import { afterEach, describe, expect, it } from 'vitest';
import { connectDtls } from '../src/client.js';
import type { DtlsConnection, DtlsSession } from '../src/connection.js';
import { CIPHER_SUITES } from '../src/crypto/suites.js';
import { createDtlsServer, type DtlsServer } from '../src/server.js';

const KEY = Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
const keys = new Map([['hsn:2159017985', KEY]]);

let server: DtlsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Partial<Parameters<typeof createDtlsServer>[0]> = {}) {
  server = createDtlsServer({ psk: (identity) => keys.get(identity), ...options });
  const address = await server.listen(0, '127.0.0.1');
  const accepted: DtlsConnection[] = [];
  server.on('secureConnection', (connection) => {
    accepted.push(connection);
    connection.on('data', (data: Uint8Array) => connection.send(Uint8Array.from([...data].reverse())));
    connection.on('error', () => {});
  });
  return { port: address.port, accepted };
}

function nextData(connection: DtlsConnection): Promise<Uint8Array> {
  return new Promise((resolve) => connection.once('data', resolve));
}

describe('DTLS server and client of this package', () => {
  for (const suite of CIPHER_SUITES) {
    it(`completes a PSK handshake and carries data both ways with ${suite.name}`, async () => {
      const { port, accepted } = await start();
      const client = await connectDtls({
        host: '127.0.0.1',
        port,
        identity: 'hsn:2159017985',
        psk: KEY,
        cipherSuites: [suite.id],
      });
      expect(client.cipherSuite).toBe(suite.name);
      const reply = nextData(client);
      client.send(Uint8Array.of(1, 2, 3, 4));
      expect([...(await reply)]).toEqual([4, 3, 2, 1]);
      expect(accepted[0]?.identity).toBe('hsn:2159017985');
      client.close();
    });
  }

  it('refuses an unknown identity with unknown_psk_identity', async () => {
    const { port } = await start();
    await expect(connectDtls({ host: '127.0.0.1', port, identity: 'hsn:1', psk: KEY })).rejects.toMatchObject({
      code: 'DTLS_ALERT',
      alert: 115,
    });
  });

  it('a wrong key fails the Finished check', async () => {
    const { port } = await start();
    await expect(
      connectDtls({ host: '127.0.0.1', port, identity: 'hsn:2159017985', psk: new Uint8Array(16), timeoutMs: 800 }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/DTLS_ALERT|DTLS_TIMEOUT/) });
  });

  it('resumes a session with an abbreviated handshake', async () => {
    const { port } = await start();
    const first = await connectDtls({ host: '127.0.0.1', port, identity: 'hsn:2159017985', psk: KEY });
    const session = first.session;
    expect(session).toBeDefined();
    first.close();
    const second = await connectDtls({
      host: '127.0.0.1',
      port,
      identity: 'hsn:2159017985',
      psk: KEY,
      session: session as DtlsSession,
    });
    expect(second.resumed).toBe(true);
    const reply = nextData(second);
    second.send(Uint8Array.of(9, 8));
    expect([...(await reply)]).toEqual([8, 9]);
    second.close();
  });

  it('negotiates a Connection ID and uses it', async () => {
    const { port, accepted } = await start();
    const client = await connectDtls({
      host: '127.0.0.1',
      port,
      identity: 'hsn:2159017985',
      psk: KEY,
      connectionId: new Uint8Array(0),
    });
    expect(client.peerConnectionId?.length).toBe(6);
    const reply = nextData(client);
    client.send(Uint8Array.of(5));
    expect([...(await reply)]).toEqual([5]);
    expect(accepted[0]?.connectionId).toEqual(client.peerConnectionId);
    client.close();
  });
});

describe('DTLS association lifetime and record layer', () => {
  it('drops a replayed application record (RFC 6347 4.1.2.6): the data arrives once', async () => {
    const { createSocket } = await import('node:dgram');
    const { port, accepted } = await start();
    const socket = createSocket('udp4');
    const send = socket.send.bind(socket) as (datagram: Uint8Array, port: number, host: string) => void;
    let last: Uint8Array | undefined;
    (socket as unknown as { send: typeof send }).send = (datagram, toPort, host) => {
      if (datagram instanceof Uint8Array) last = datagram;
      send(datagram, toPort, host);
    };
    const client = await connectDtls({ host: '127.0.0.1', port, identity: 'hsn:2159017985', psk: KEY, socket });
    const received: number[] = [];
    await new Promise((resolve) => setTimeout(resolve, 20));
    accepted[0]?.on('data', (data: Uint8Array) => received.push(...data));
    client.send(Uint8Array.of(42));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The same datagram again, as an attacker or the network would replay it.
    send(last as Uint8Array, port, '127.0.0.1');
    send(last as Uint8Array, port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([42]);
    client.close();
    socket.close();
  });

  it('close_notify ends the association on both sides', async () => {
    const { port, accepted } = await start();
    const client = await connectDtls({ host: '127.0.0.1', port, identity: 'hsn:2159017985', psk: KEY });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const serverSide = accepted[0] as DtlsConnection;
    const closed = new Promise((resolve) => serverSide.once('close', resolve));
    client.close();
    await closed;
    expect(serverSide.state).toBe('closed');
    expect(server?.connections).toHaveLength(0);
  });

  it('drops an idle association after idleTimeoutMs', async () => {
    const { port, accepted } = await start({ limits: { idleTimeoutMs: 200 } });
    const client = await connectDtls({ host: '127.0.0.1', port, identity: 'hsn:2159017985', psk: KEY });
    client.on('error', () => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    const serverSide = accepted[0] as DtlsConnection;
    const closed = new Promise((resolve) => serverSide.once('close', resolve));
    await closed;
    expect(server?.connections).toHaveLength(0);
    client.destroy();
  }, 5000);
});

describe('DTLS handshake fragmentation (RFC 6347 4.2.3)', () => {
  it('fragments large handshake messages to the MTU and reassembles them, both ways', async () => {
    // A 600-byte identity hint (ServerKeyExchange) and a 500-byte identity (ClientKeyExchange) with a 256-byte MTU:
    // both flights go out in several fragments.
    const identity = `hsn:${'9'.repeat(496)}`;
    keys.set(identity, KEY);
    const { port, accepted } = await start({ mtu: 256, pskIdentityHint: 'h'.repeat(600) });
    const client = await connectDtls({ host: '127.0.0.1', port, identity, psk: KEY, mtu: 256 });
    const reply = nextData(client);
    client.send(Uint8Array.of(1, 2));
    expect([...(await reply)]).toEqual([2, 1]);
    expect(accepted[0]?.identity).toBe(identity);
    client.close();
  });
});
