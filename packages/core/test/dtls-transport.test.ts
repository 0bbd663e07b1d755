// flap-dtls: the firmware's boot conversation inside DTLS 1.2 PSK (identity hsn:<serial>), byte for byte, with the
// packets stripped of hash and serial as the spec frames them; and who is refused.
import { connectDtls, type DtlsConnection } from '@uplink/dtls';
import { afterEach, describe, expect, it } from 'vitest';
import { ConversationEngine, createMemoryStorage, provisionDevicePsk, type Storage } from '../src/index.js';
import { createFlapDtlsServer, type FlapDtlsServer, serialOfIdentity } from '../src/transport/dtls.js';
import { BOOT_DEVICE, BOOT_NOW, BOOT_SESSION_ID, bytes, hexOf, queueBootDownlinks, readVectors } from './fixtures.js';

interface BootConversation {
  packets: { dir: string; hex: string; note: string }[];
}
const boot = readVectors<BootConversation>('test_boot_conversation.json');
const PSK = bytes('2b7e151628aed2a6abf7158809cf4f3c');

let server: FlapDtlsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(psk: Uint8Array | null = PSK): Promise<{ storage: Storage; port: number }> {
  const storage = createMemoryStorage();
  await storage.createDevice({
    ...BOOT_DEVICE,
    claimToken: BOOT_DEVICE.claimToken.slice(),
    ...(psk ? { psk } : {}),
    tags: [],
    labels: {},
    tenant: { spaceId: 'space', groupId: 'group' },
  });
  let ticks = 0;
  const engine = new ConversationEngine({ storage, clock: () => BOOT_NOW + ticks++, sessionId: () => BOOT_SESSION_ID });
  server = createFlapDtlsServer({ storage, engine, host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  return { storage, port };
}

/** A flap-hash packet without its 8-byte hash and 4-byte serial: the flap-dtls framing. */
const dtlsFrame = (hex: string) => bytes(hex).subarray(12);

function reply(connection: DtlsConnection, timeoutMs = 2000): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      connection.off('data', onData);
      resolve(undefined);
    }, timeoutMs);
    const onData = (data: Uint8Array) => {
      clearTimeout(timer);
      resolve(data);
    };
    connection.once('data', onData);
  });
}

describe('flap-dtls transport', () => {
  it('runs the firmware boot conversation inside DTLS (CCM_8, identity hsn:<serial>), byte for byte', async () => {
    const { storage, port } = await setup();
    const connection = await connectDtls({
      host: '127.0.0.1',
      port,
      identity: `hsn:${BOOT_DEVICE.serialNumber}`,
      psk: PSK,
      connectionId: new Uint8Array(0),
    });
    expect(connection.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    const packets = boot.packets;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i] as (typeof packets)[number];
      if (!packet.dir.startsWith('device')) continue;
      await queueBootDownlinks(storage, i);
      const next = packets[i + 1];
      const expectsReply = next?.dir.startsWith('cloud') === true;
      const answer = reply(connection, expectsReply ? 2000 : 150);
      connection.send(dtlsFrame(packet.hex));
      const received = await answer;
      if (expectsReply)
        expect(hexOf(received ?? new Uint8Array(0)), `reply to packet ${i} (${packet.note})`).toBe(
          hexOf(dtlsFrame(next?.hex ?? '')),
        );
      else expect(received, `packet ${i} (${packet.note}) expects no reply`).toBeUndefined();
    }
    expect((await storage.listMessages()).items.map((m) => m.type).reverse()).toEqual(['session', 'config', 'shell']);
    expect(server?.counters).toMatchObject({ received: 10, replied: 7 });
    connection.close();
  });

  it('refuses a device without a key, an unknown serial and an identity that is not hsn:<serial>', async () => {
    const { port } = await setup(null);
    for (const identity of [`hsn:${BOOT_DEVICE.serialNumber}`, 'hsn:12345', 'device-1']) {
      await expect(connectDtls({ host: '127.0.0.1', port, identity, psk: PSK, timeoutMs: 3000 })).rejects.toMatchObject(
        {
          code: 'DTLS_ALERT',
          alert: 115,
        },
      );
    }
  });

  it('a provisioned key works at once and replaces the old one', async () => {
    const { storage, port } = await setup();
    const fresh = await provisionDevicePsk(storage, BOOT_DEVICE.id);
    expect(fresh).toHaveLength(16);
    const identity = `hsn:${BOOT_DEVICE.serialNumber}`;
    const connection = await connectDtls({ host: '127.0.0.1', port, identity, psk: fresh });
    connection.close();
    // The old key no longer authenticates: its Finished does not decrypt, so the handshake never completes.
    await expect(connectDtls({ host: '127.0.0.1', port, identity, psk: PSK, timeoutMs: 800 })).rejects.toMatchObject({
      code: 'DTLS_TIMEOUT',
    });
    await expect(provisionDevicePsk(storage, 'nobody')).rejects.toMatchObject({ code: 'DOWNLINK_INVALID' });
  });

  it('reads hsn:<serial> identities strictly', () => {
    expect(serialOfIdentity('hsn:2159017985')).toBe(2159017985);
    for (const bad of ['hsn:', 'hsn:-1', 'hsn:4294967296', 'HSN:1', ' hsn:1', 'hsn:1 ', 'hsn:0x10'])
      expect(serialOfIdentity(bad)).toBeUndefined();
  });
});
