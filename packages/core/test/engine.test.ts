import { describe, expect, it } from 'vitest';
import {
  ConversationEngine,
  createMemoryQueue,
  createMemoryStorage,
  type Device,
  type Downlink,
  type FlapPacket,
  type PipelineEvent,
  packPacket,
  unpackPacket,
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
  packets: { dir: string; hex: string; seq: number; note: string }[];
}

const boot = readVectors<BootConversation>('test_boot_conversation.json');
const claimToken = bytes(boot.claim_token_hex);
// What the firmware test's mock server held (test_cloud.c): the device, the clock, the session id source.
const NOW = BOOT_NOW;
const SESSION_ID = BOOT_SESSION_ID;

const registeredDevice = registerBootDevice;

function downlink(id: string, deviceId: string, kind: Downlink['kind'], payload: Downlink['payload']): Downlink {
  const at = new Date(NOW);
  return { id, deviceId, kind, payload, state: 'pending', createdAt: at, updatedAt: at };
}

describe('conversation engine', () => {
  it('answers the 17-datagram boot conversation with exactly the server packets of the trace', async () => {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    // A clock that moves a millisecond per reading: ids (UUIDv7) then sort in the order things happened.
    let ticks = 0;
    const engine = new ConversationEngine({ storage, clock: () => NOW + ticks++, sessionId: () => SESSION_ID });
    const packets = boot.packets;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i] as (typeof packets)[number];
      if (!packet.dir.startsWith('device')) continue;
      // The test queues a config download after the session is set, and a shell command after the first empty poll.
      await queueBootDownlinks(storage, i);
      const current = (await storage.getDevice(device.id)) as Device;
      const reply = await engine.handle(current, unpackPacket(bytes(packet.hex), claimToken));
      const next = packets[i + 1];
      if (next?.dir.startsWith('cloud')) {
        expect(reply, `reply to packet ${i} (${packet.note})`).toBeDefined();
        expect(hexOf(packPacket(reply as FlapPacket, claimToken)), `reply to packet ${i} (${packet.note})`).toBe(
          next.hex,
        );
      } else {
        expect(reply, `packet ${i} (${packet.note}) expects no reply`).toBeUndefined();
      }
    }
    const messages = (await storage.listMessages()).items.map((m) => m.type).reverse();
    expect(messages).toEqual(['session', 'config', 'shell']);
    expect((await storage.getSession(SESSION_ID))?.info).toMatchObject({ vendor: 'HARDWARIO', fwVersion: 'v0.0.1' });
    expect((await storage.getDevice(device.id))?.configHash).toBe(0x73a9151b127641bbn);
    expect((await storage.listDownlinks(device.id)).map((d) => d.state)).toEqual(['acknowledged', 'acknowledged']);
    const log = (await storage.listLog({ sessionId: SESSION_ID, limit: 1000 })).items;
    expect(log.length).toBeGreaterThanOrEqual(15);
  });

  it('answers a resent packet from the cache, stores and publishes its message once', async () => {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    const events = createMemoryQueue<PipelineEvent>();
    const seen: string[] = [];
    events.subscribe((event) => {
      seen.push(event.type);
    });
    const engine = new ConversationEngine({ storage, events, clock: () => NOW, sessionId: () => SESSION_ID });
    const createSession = unpackPacket(bytes(boot.packets[0]?.hex ?? ''), claimToken);
    const first = await engine.handle(device, createSession);
    const again = await engine.handle(device, createSession);
    expect(again).toEqual(first);
    expect((await storage.listMessages()).items).toHaveLength(1);
    await events.close();
    expect(seen).toEqual(['session.created', 'message.stored']);
  });
});

describe('conversation engine: data, codecs and downlinks', async () => {
  const { loadCodec } = await import('@uplink/codec');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { CTR_CLOUD } = await import('./fixtures.js');
  const { FLAP_FLAGS, fragmentMessage, packMessage, nextSequence } = await import('../src/index.js');
  const codecDir = join(CTR_CLOUD, '../codec-hash');
  const clime = loadCodec(readFileSync(join(codecDir, 'clime.decoder.yaml'), 'utf8'));
  const demoEncoder = loadCodec(readFileSync(join(codecDir, 'demo.encoder.yaml'), 'utf8'));

  /** Sends a whole message as the firmware does, fragment by fragment; returns the last reply. */
  async function send(engine: ConversationEngine, device: Device, start: number, message: Uint8Array) {
    let sequence = start;
    let reply: FlapPacket | undefined;
    for (const fragment of fragmentMessage(message)) {
      reply = await engine.handle(device, {
        serial: device.serialNumber,
        sequence,
        flags: fragment.flags,
        data: fragment.data,
      });
      expect((reply?.flags ?? 0) & FLAP_FLAGS.ACK).toBeTruthy();
      sequence = nextSequence(reply?.sequence ?? sequence);
    }
    return { reply, sequence };
  }

  it('takes a codec upload in several fragments, then decodes data with it; unknown codecs are stored raw with the reason', async () => {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    let ticks = 0;
    const engine = new ConversationEngine({ storage, clock: () => NOW + ticks++, sessionId: () => SESSION_ID });
    let step = await send(
      engine,
      device,
      1,
      packMessage({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor }),
    );
    expect(clime.cbor.length).toBeGreaterThan(494 * 7);
    expect((await storage.getDevice(device.id))?.decoderHash).toBe(clime.hash);
    const data = clime.encode({ thermometer: { temperature: 21.5 } });
    step = await send(
      engine,
      device,
      step.sequence,
      packMessage({ type: 'upload-data', hash: clime.hash, cbor: data }),
    );
    step = await send(engine, device, step.sequence, packMessage({ type: 'upload-data', hash: 0x1234n, cbor: data }));
    await send(
      engine,
      device,
      step.sequence,
      packMessage({ type: 'upload-decoder', hash: 0x1234n, codec: clime.cbor }),
    );
    const [badUpload, unknown, decoded] = (await storage.listMessages({ limit: 3 })).items;
    expect(decoded).toMatchObject({
      type: 'data',
      body: { thermometer: { temperature: 21.5 } },
      codec_hash: clime.hashHex,
    });
    expect(unknown).toMatchObject({
      type: 'data',
      body: null,
      codec_hash: '0x0000000000001234',
      error: 'codec 0x0000000000001234 is unknown',
    });
    expect(badUpload?.error).toMatch(/CODEC_HASH_MISMATCH|hash/);
    expect(await storage.getCodec(0x1234n)).toBeUndefined();
  });

  it('sends a data downlink encoded with the device encoder, in fragments, and marks it acknowledged', async () => {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    await storage.putCodec({
      hash: demoEncoder.hash,
      type: 'encoder',
      cbor: demoEncoder.cbor,
      createdAt: new Date(NOW),
    });
    await storage.updateDevice(device.id, { encoderHash: demoEncoder.hash });
    const engine = new ConversationEngine({ storage, clock: () => NOW, sessionId: () => SESSION_ID });
    await storage.addDownlink(
      downlink('018dd0f2-9d00-7000-8000-0000000000aa', device.id, 'data', { body: { led_r: 1, led_g: 0 } }),
    );
    const current = (await storage.getDevice(device.id)) as Device;
    const poll = await engine.handle(current, {
      serial: device.serialNumber,
      sequence: 7,
      flags: FLAP_FLAGS.POLL,
      data: new Uint8Array(0),
    });
    expect(poll?.sequence).toBe(8);
    expect(poll?.flags).toBe(FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST);
    expect(hexOf(poll?.data ?? new Uint8Array(0))).toBe(
      `86${demoEncoder.hash.toString(16).padStart(16, '0')}a200010100`,
    );
    expect((await storage.getDownlink('018dd0f2-9d00-7000-8000-0000000000aa'))?.state).toBe('sent');
    const final = await engine.handle(current, {
      serial: device.serialNumber,
      sequence: 9,
      flags: FLAP_FLAGS.ACK,
      data: new Uint8Array(0),
    });
    expect(final).toBeUndefined();
    expect((await storage.getDownlink('018dd0f2-9d00-7000-8000-0000000000aa'))?.state).toBe('acknowledged');
    const nothing = await engine.handle(current, {
      serial: device.serialNumber,
      sequence: 10,
      flags: FLAP_FLAGS.POLL,
      data: new Uint8Array(0),
    });
    expect(nothing).toEqual({
      serial: device.serialNumber,
      sequence: 11,
      flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST,
      data: new Uint8Array(0),
    });
  });
});
