// Properties of the conversation engine: whatever a signed-in device (or the network between) throws at it, the
// engine answers within the protocol or refuses with a CoreError, and a device that keeps to the protocol gets each
// message stored exactly once, however late and duplicated the network delivers its packets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConversationEngine,
  CoreError,
  createMemoryStorage,
  FLAP_FLAGS,
  type FlapPacket,
  fragmentMessage,
  MAX_PACKET_DATA,
  nextSequence,
  packMessage,
} from '../src/index.js';
import { BOOT_NOW, registerBootDevice } from './fixtures.js';

const budget = { numRuns: 150, interruptAfterTimeLimit: 4000 };

describe('conversation engine properties', () => {
  it('any packets of a registered device: a reply within the protocol or a CoreError, never another exception', async () => {
    const messageBytes = fc.oneof(
      fc.uint8Array({ maxLength: MAX_PACKET_DATA }),
      // Real message prefixes: type bytes followed by junk, so that the message layer is reached.
      fc
        .tuple(
          fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x80, 0xff),
          fc.uint8Array({ maxLength: 80 }),
        )
        .map(([type, rest]) => Uint8Array.of(type, ...rest)),
    );
    const packet = fc.record({
      sequence: fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 6 })),
      flags: fc.integer({ min: 0, max: 15 }),
      data: fc.oneof(fc.constant(new Uint8Array(0)), messageBytes),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(packet, { maxLength: 40 }), async (packets) => {
        const storage = createMemoryStorage();
        const device = await registerBootDevice(storage);
        const engine = new ConversationEngine({ storage, clock: () => BOOT_NOW, sessionId: () => 7 });
        for (const input of packets) {
          try {
            const reply = await engine.handle(device, { serial: device.serialNumber, ...input });
            if (reply) {
              expect(reply.serial).toBe(device.serialNumber);
              expect([0, nextSequence(input.sequence)]).toContain(reply.sequence);
              expect(reply.data.length).toBeLessThanOrEqual(MAX_PACKET_DATA);
            }
          } catch (error) {
            if (!(error instanceof CoreError)) throw error;
          }
        }
        expect((await storage.listMessages({ limit: 1000 })).items.length).toBeLessThanOrEqual(packets.length);
        expect(engine.stats.packets).toBe(packets.length);
      }),
      budget,
    );
  });

  it('a device keeping to the protocol, behind a network that duplicates and delays packets: each message stored once', async () => {
    // What the network does before each packet of the device arrives: deliver a copy of an earlier packet (late).
    const scenario = fc.record({
      sizes: fc.array(fc.integer({ min: 1, max: 1300 }), { minLength: 1, maxLength: 8 }),
      start: fc.integer({ min: 1, max: 4095 }),
      late: fc.array(fc.option(fc.nat(), { freq: 2 }), { maxLength: 40 }),
      resend: fc.array(fc.boolean(), { maxLength: 40 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ sizes, start, late, resend }) => {
        const storage = createMemoryStorage();
        const device = await registerBootDevice(storage);
        const engine = new ConversationEngine({ storage, clock: () => BOOT_NOW, sessionId: () => 7 });
        const history: FlapPacket[] = [];
        let sequence = start;
        let step = 0;
        for (const [index, size] of sizes.entries()) {
          const body = Uint8Array.from({ length: size }, (_, i) => (i + index) & 0xff);
          const message = packMessage({ type: 'upload-data', hash: 0n, cbor: body });
          for (const fragment of fragmentMessage(message)) {
            const packet: FlapPacket = { serial: device.serialNumber, sequence, ...fragment };
            const earlier = late[step % Math.max(1, late.length)];
            if (earlier !== null && earlier !== undefined && history.length > 0) {
              // A late copy of an earlier packet: nothing stored, and no reset that would make the device restart a
              // message already stored; only the last packet's copy gets its cached reply (a resend).
              const at = earlier % history.length;
              const copy = history[at] as FlapPacket;
              const reply = await engine.handle(device, copy);
              if (at === history.length - 1) expect(reply?.sequence).toBe(nextSequence(copy.sequence));
              else if (history.length - at <= 32) expect(reply).toBeUndefined();
            }
            let reply = await engine.handle(device, packet);
            // The reply was lost: the device resends the identical packet and gets the cached reply.
            if (resend[step % Math.max(1, resend.length)]) reply = await engine.handle(device, { ...packet });
            step++;
            expect(reply).toMatchObject({ sequence: nextSequence(sequence), flags: FLAP_FLAGS.ACK });
            history.push(packet);
            sequence = nextSequence((reply as FlapPacket).sequence);
          }
        }
        const stored = (await storage.listMessages({ limit: 1000 })).items.reverse();
        expect(stored.map((m) => m.raw.length)).toEqual(sizes.map((size) => size + 9));
      }),
      budget,
    );
  });
});
