import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConversationEngine,
  createFlapUdpServer,
  createMemoryStorage,
  type FlapUdpServer,
  packPacket,
  type Storage,
} from '../src/index.js';
import {
  BOOT_NOW,
  BOOT_SESSION_ID,
  bytes,
  hexOf,
  queueBootDownlinks,
  readVectors,
  registerBootDevice,
} from './fixtures.js';

interface BootConversation {
  claim_token_hex: string;
  serial_number: number;
  packets: { dir: string; hex: string; base64_on_wire: string }[];
}

const boot = readVectors<BootConversation>('test_boot_conversation.json');
const claimToken = bytes(boot.claim_token_hex);
const NOW = BOOT_NOW;

async function setup(): Promise<{
  storage: Storage;
  server: FlapUdpServer;
  ports: { binaryPort: number; base64Port: number };
}> {
  const storage = createMemoryStorage();
  await registerBootDevice(storage);
  let ticks = 0;
  const engine = new ConversationEngine({ storage, clock: () => NOW + ticks++, sessionId: () => BOOT_SESSION_ID });
  const server = createFlapUdpServer({ storage, engine, host: '::', binaryPort: 0, base64Port: 0 });
  const ports = await server.listen();
  return { storage, server, ports };
}

/** A UDP client that sends one datagram and waits for the reply (or for none, within `quietMs`). */
function client(family: 'udp4' | 'udp6') {
  const socket = createSocket(family);
  const replies: Buffer[] = [];
  const waiters: ((reply: Buffer | undefined) => void)[] = [];
  socket.on('message', (message) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else replies.push(message);
  });
  return {
    exchange(datagram: Uint8Array, port: number, host: string, quietMs = 150): Promise<Buffer | undefined> {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(done), 1);
          resolve(undefined);
        }, quietMs);
        timer.unref();
        const done = (reply: Buffer | undefined) => {
          clearTimeout(timer);
          resolve(reply);
        };
        waiters.push(done);
        socket.send(datagram, port, host);
      });
    },
    close: () => socket.close(),
  };
}

let server: FlapUdpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('flap-hash over UDP', () => {
  for (const [framing, family, host] of [
    ['binary', 'udp4', '127.0.0.1'],
    ['base64', 'udp6', '::1'],
  ] as const) {
    it(`runs the firmware's boot conversation over real sockets, ${framing} framing on ${host}`, async () => {
      const context = await setup();
      server = context.server;
      const port = framing === 'binary' ? context.ports.binaryPort : context.ports.base64Port;
      const device = client(family);
      const packets = boot.packets;
      for (let i = 0; i < packets.length; i++) {
        const packet = packets[i] as (typeof packets)[number];
        if (!packet.dir.startsWith('device')) continue;
        await queueBootDownlinks(context.storage, i);
        const datagram = framing === 'binary' ? bytes(packet.hex) : Buffer.from(packet.base64_on_wire, 'latin1');
        const next = packets[i + 1];
        const expectsReply = next?.dir.startsWith('cloud') ?? false;
        const reply = await device.exchange(datagram, port, host, expectsReply ? 2000 : 150);
        if (expectsReply) {
          expect(reply, `reply to packet ${i}`).toBeDefined();
          const expected = framing === 'binary' ? next?.hex : next?.base64_on_wire;
          expect(
            framing === 'binary' ? hexOf(reply as Buffer) : (reply as Buffer).toString('latin1'),
            `reply to packet ${i}`,
          ).toBe(expected);
        } else {
          expect(reply, `packet ${i} expects no reply`).toBeUndefined();
        }
      }
      device.close();
      expect((await context.storage.listMessages()).items.map((m) => m.type).reverse()).toEqual([
        'session',
        'config',
        'shell',
      ]);
    });
  }

  it('drops, counts and logs garbage, unknown devices and bad hashes, and keeps serving', async () => {
    const context = await setup();
    server = context.server;
    const device = client('udp4');
    const { binaryPort, base64Port } = context.ports;
    expect(await device.exchange(Uint8Array.of(1, 2, 3), binaryPort, '127.0.0.1')).toBeUndefined();
    expect(await device.exchange(Buffer.from('not base64!'), base64Port, '127.0.0.1')).toBeUndefined();
    const stranger = packPacket({ serial: 12345, sequence: 0, flags: 12, data: Uint8Array.of(1) }, claimToken);
    expect(await device.exchange(stranger, binaryPort, '127.0.0.1')).toBeUndefined();
    const forged = packPacket(
      { serial: boot.serial_number, sequence: 0, flags: 12, data: Uint8Array.of(1) },
      new Uint8Array(16),
    );
    expect(await device.exchange(forged, binaryPort, '127.0.0.1')).toBeUndefined();
    expect(context.server.counters.dropped).toMatchObject({ garbage: 2, 'unknown-device': 1, 'bad-hash': 1 });
    const errors = (await context.storage.listLog({ limit: 10 })).items.map((e) => e.error);
    expect(errors).toEqual(expect.arrayContaining(['garbage', 'unknown-device', 'bad-hash']));
    const reply = await device.exchange(bytes(boot.packets[0]?.hex ?? ''), binaryPort, '127.0.0.1', 2000);
    expect(hexOf(reply as Buffer)).toBe(boot.packets[1]?.hex);
    // A late duplicate (or a replay) of a signed packet the device sent earlier, the boot's poll (sequence 2), is
    // dropped without a reply and not processed.
    const poll = bytes(boot.packets[2]?.hex ?? '');
    await device.exchange(poll, binaryPort, '127.0.0.1', 2000);
    await device.exchange(bytes(boot.packets[4]?.hex ?? ''), binaryPort, '127.0.0.1', 200);
    expect(await device.exchange(poll, binaryPort, '127.0.0.1', 300)).toBeUndefined();
    expect(context.server.stats).toMatchObject({ duplicates: 1, resets: 0, messages: 1 });
    device.close();
  });
});
