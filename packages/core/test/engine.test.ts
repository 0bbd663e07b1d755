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

describe('conversation engine: sequences, resets and replays (spec/flap.md, "Sequence, acknowledgement")', async () => {
  const { FLAP_FLAGS, fragmentMessage, packMessage, scheduleDownlink } = await import('../src/index.js');
  const empty = new Uint8Array(0);
  const dataMessage = (n: number) => packMessage({ type: 'upload-data', hash: 0n, cbor: Uint8Array.of(0xa1, 0x00, n) });

  async function setup() {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    const engine = new ConversationEngine({ storage, clock: () => NOW, sessionId: () => SESSION_ID });
    const packet = (sequence: number, flags: number, data: Uint8Array = empty): FlapPacket => ({
      serial: device.serialNumber,
      sequence,
      flags,
      data,
    });
    const stored = async () => (await storage.listMessages({ limit: 1000 })).items.length;
    return { storage, device, engine, packet, stored };
  }
  const RESET = { sequence: 0, flags: 0, data: empty };

  it('drops a late packet (behind the expected sequence) without a word; one far off gets a reset; nothing is stored twice', async () => {
    const { storage, device } = await setup();
    let now = NOW;
    const engine = new ConversationEngine({ storage, clock: () => now, sessionId: () => SESSION_ID });
    const packet = (sequence: number, flags: number, data: Uint8Array = empty): FlapPacket => ({
      serial: device.serialNumber,
      sequence,
      flags,
      data,
    });
    const stored = async () => (await storage.listMessages({ limit: 1000 })).items.length;
    const first = packet(10, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(1));
    expect(await engine.handle(device, first)).toMatchObject({ sequence: 11, flags: FLAP_FLAGS.ACK });
    const second = packet(12, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(2));
    expect(await engine.handle(device, second)).toMatchObject({ sequence: 13 });
    // The network delivers the first packet again, late: not a resend of the last packet, and not to be answered
    // (a reset would make the device restart the message it sends now, which may be stored already).
    expect(await engine.handle(device, first)).toBeUndefined();
    expect(engine.stats).toMatchObject({ resends: 0, duplicates: 1, resets: 0, messages: 2 });
    // The device's resend of its last packet still gets the cached reply.
    expect(await engine.handle(device, second)).toMatchObject({ sequence: 13 });
    // A minute later (out of the duplicate memory) it is still behind the expected sequence: dropped again.
    now += 60_000;
    expect(await engine.handle(device, first)).toBeUndefined();
    // A packet far from the expected sequence (an old replay, a device that lost track) gets a reset instead.
    expect(await engine.handle(device, packet(2000, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(7)))).toMatchObject(
      RESET,
    );
    expect(await stored()).toBe(2);
    expect(engine.stats).toMatchObject({ resends: 1, duplicates: 2, resets: 1, messages: 2 });
    // The device goes on from its sequence: the reset left the link as it was.
    expect(await engine.handle(device, packet(14, FLAP_FLAGS.POLL))).toMatchObject({ sequence: 15 });
    // A device that restarts from sequence 0 goes on from there.
    expect(await engine.handle(device, packet(0, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(3)))).toMatchObject({
      sequence: 1,
      flags: FLAP_FLAGS.ACK,
    });
    expect(await engine.handle(device, packet(2, FLAP_FLAGS.POLL))).toMatchObject({ sequence: 3 });
    expect(await stored()).toBe(3);
  });

  it('takes a lost final ACK as given when the device goes on with the sequence after it', async () => {
    const { storage, device, engine, packet } = await setup();
    const reboot = await scheduleDownlink({ storage }, device.id, { kind: 'reboot' });
    expect(await engine.handle(device, packet(1, FLAP_FLAGS.POLL))).toMatchObject({
      sequence: 2,
      data: Uint8Array.of(0xff),
    });
    // The final ACK (sequence 3) is lost; the device goes on with sequence 4.
    expect(await engine.handle(device, packet(4, FLAP_FLAGS.POLL))).toMatchObject({
      sequence: 5,
      flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST,
      data: empty,
    });
    expect((await storage.getDownlink(reboot.id))?.state).toBe('acknowledged');
  });

  it('answers a resend from the cache only when the packet is identical; the same sequence with other data is a reset', async () => {
    const { device, engine, packet, stored } = await setup();
    const sent = packet(5, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(1));
    const reply = await engine.handle(device, sent);
    expect(await engine.handle(device, { ...sent, data: sent.data.slice() })).toEqual(reply);
    expect(await engine.handle(device, packet(5, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(2)))).toMatchObject(
      RESET,
    );
    expect(await stored()).toBe(1);
    expect(engine.stats).toMatchObject({ resends: 1, resets: 1 });
  });

  it('after a server restart, asks a device in the middle of a message to restart it, and stores it once', async () => {
    const { storage, device, engine, packet, stored } = await setup();
    const fragments = fragmentMessage(new Uint8Array(1200).fill(7).map((v, i) => (i === 0 ? 0x06 : v)));
    expect(fragments).toHaveLength(3);
    const [one, two, three] = fragments as [(typeof fragments)[0], (typeof fragments)[0], (typeof fragments)[0]];
    await engine.handle(device, packet(20, one.flags, one.data));
    // A new engine (the server restarted) knows nothing of the message: the middle fragment gets a reset.
    const restarted = new ConversationEngine({ storage, clock: () => NOW, sessionId: () => SESSION_ID });
    expect(await restarted.handle(device, packet(22, two.flags, two.data))).toMatchObject(RESET);
    // And so does an ACK of a downlink it never sent.
    expect(await restarted.handle(device, packet(22, FLAP_FLAGS.ACK))).toMatchObject(RESET);
    let sequence = 0;
    for (const fragment of [one, two, three]) {
      const reply = await restarted.handle(device, packet(sequence, fragment.flags, fragment.data));
      expect(reply).toMatchObject({ sequence: sequence + 1, flags: FLAP_FLAGS.ACK });
      sequence += 2;
    }
    expect(await stored()).toBe(1);
  });

  it('wraps sequences 4095 -> 1 and keeps going', async () => {
    const { device, engine, packet } = await setup();
    expect(await engine.handle(device, packet(4094, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(1)))).toMatchObject(
      {
        sequence: 4095,
      },
    );
    expect(await engine.handle(device, packet(1, FLAP_FLAGS.POLL))).toMatchObject({ sequence: 2 });
    expect(await engine.handle(device, packet(3, FLAP_FLAGS.POLL))).toMatchObject({ sequence: 4 });
    // Behind, across the wrap: late, dropped. Far off: reset.
    expect(await engine.handle(device, packet(4095, FLAP_FLAGS.POLL))).toBeUndefined();
    expect(await engine.handle(device, packet(3000, FLAP_FLAGS.POLL))).toMatchObject(RESET);
  });

  it('a device that reboots mid-message (sequence 0, FIRST) drops the half message and starts afresh', async () => {
    const { storage, device, engine, packet } = await setup();
    const [one] = fragmentMessage(new Uint8Array(1200).fill(1).map((v, i) => (i === 0 ? 0x06 : v)));
    await engine.handle(device, packet(40, one?.flags ?? 0, one?.data));
    expect(await engine.handle(device, packet(0, FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, dataMessage(9)))).toMatchObject({
      sequence: 1,
      flags: FLAP_FLAGS.ACK,
    });
    const { items } = await storage.listMessages();
    expect(items.map((m) => m.raw)).toEqual([dataMessage(9)]);
  });

  it('a downlink that cannot be built fails with its reason, and the next one goes out', async () => {
    const { storage, device, engine, packet } = await setup();
    const failed = await scheduleDownlink({ storage }, device.id, { kind: 'data', body: { led_r: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 2));
    const reboot = await scheduleDownlink({ storage }, device.id, { kind: 'reboot' });
    const reply = await engine.handle(device, packet(1, FLAP_FLAGS.POLL));
    expect(reply?.data).toEqual(Uint8Array.of(0xff));
    expect(await storage.getDownlink(failed.id)).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('has no encoder codec'),
    });
    expect((await storage.getDownlink(reboot.id))?.state).toBe('sent');
    expect(await engine.handle(device, packet(3, FLAP_FLAGS.ACK))).toBeUndefined();
    expect((await storage.getDownlink(reboot.id))?.state).toBe('acknowledged');
  });
});

describe('conversation engine: callback deliveries', async () => {
  const { FLAP_FLAGS, packMessage, uuidv7 } = await import('../src/index.js');
  it('stores the deliveries planned for a message in the same step as the message', async () => {
    const storage = createMemoryStorage();
    const device = await registeredDevice(storage);
    const planned: string[] = [];
    const engine = new ConversationEngine({
      storage,
      clock: () => NOW,
      sessionId: () => SESSION_ID,
      deliveries: (message, from) => {
        planned.push(`${message.type}:${from.name}`);
        return [
          {
            id: uuidv7(),
            callbackId: 'cb-1',
            messageId: message.id,
            state: 'pending',
            attempts: 0,
            nextAttemptAt: new Date(NOW),
            createdAt: new Date(NOW),
            updatedAt: new Date(NOW),
          },
        ];
      },
    });
    await engine.handle(device, {
      serial: device.serialNumber,
      sequence: 1,
      flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST,
      data: packMessage({ type: 'upload-data', hash: 0n, cbor: Uint8Array.of(0xa0) }),
    });
    const [message] = (await storage.listMessages()).items;
    expect(planned).toEqual([`data:${device.name}`]);
    expect((await storage.listDeliveries({ callbackId: 'cb-1' })).items.map((d) => d.messageId)).toEqual([message?.id]);
  });
});
