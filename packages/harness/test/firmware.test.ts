import { randomBytes } from 'node:crypto';
import {
  addFirmware,
  cancelDownlink,
  createFlapUdpServer,
  createMemoryStorage,
  type DownlinkMessage,
  type FlapUdpServer,
  type Storage,
  scheduleDownlink,
  uuidv7,
} from '@uplink/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FlapDevice, udpTransport } from '../src/index.js';

const claimToken = Uint8Array.from(Buffer.from('98a8856ba6534bd5212176b22f3acbb3', 'hex'));
const SERIAL = 2159017985;

let server: FlapUdpServer | undefined;
let device: FlapDevice | undefined;
afterEach(async () => {
  device?.close();
  await server?.close();
  server = device = undefined;
});

async function start(
  options: { wrap?: (send: (datagram: Uint8Array) => void) => (datagram: Uint8Array) => void } = {},
) {
  const storage = createMemoryStorage();
  const deviceId = uuidv7();
  await storage.createDevice({
    id: deviceId,
    serialNumber: SERIAL,
    claimToken,
    name: 'motion-1',
    tags: [],
    labels: {},
    tenant: { spaceId: 'space-a', groupId: 'g' },
  });
  server = createFlapUdpServer({ storage, host: '127.0.0.1', binaryPort: 0, base64Port: 0 });
  const { base64Port } = await server.listen();
  const transport = udpTransport('127.0.0.1', base64Port);
  if (options.wrap) transport.send = options.wrap(transport.send.bind(transport));
  device = new FlapDevice({ serial: SERIAL, claimToken, transport, framing: 'base64' });
  await device.boot();
  return { storage, deviceId, device };
}

type FirmwareChunk = Extract<DownlinkMessage, { type: 'download-firmware' }>;
const isChunk = (message: DownlinkMessage): message is FirmwareChunk => message.type === 'download-firmware';

async function firmwareMessages(storage: Storage) {
  return (await storage.listMessages({ type: 'firmware', limit: 1000 })).items.reverse();
}

describe('firmware downloads over FLAP (UPLOAD_FIRMWARE / DOWNLOAD_FIRMWARE), device client against the server', () => {
  it('a scheduled download goes out chunk by chunk; the device confirms it and the downlink is acknowledged', async () => {
    const { storage, deviceId, device } = await start();
    const data = new Uint8Array(randomBytes(50_000));
    const image = await addFirmware({ storage }, { name: 'firmware:v3.1.0', data });
    const downlink = await scheduleDownlink({ storage }, deviceId, { kind: 'firmware', firmwareId: image.id });
    const [first] = await device.poll();
    expect(first).toMatchObject({
      type: 'download-firmware',
      target: 'app',
      kind: 'first',
      length: 1024,
      firmwareSize: 50_000,
    });
    expect(first && 'offset' in first).toBe(false);
    expect(Buffer.from((first as FirmwareChunk).id).toString('hex')).toBe(downlink.id.replaceAll('-', ''));
    expect((await storage.getDownlink(downlink.id))?.state).toBe('sent');
    const received = await device.downloadFirmware(first as FirmwareChunk);
    expect(Buffer.from(received).equals(Buffer.from(data))).toBe(true);
    expect(await storage.getDownlink(downlink.id)).toMatchObject({ state: 'acknowledged', progress: 50_000 });
    const requests = (await firmwareMessages(storage)).map((m) => (m.body as { request: string }).request);
    expect(requests.filter((r) => r === 'next')).toHaveLength(Math.ceil(50_000 / 1024) - 1);
    expect(requests.slice(-2)).toEqual(['swap', 'confirmed']);
    expect((await firmwareMessages(storage)).every((m) => m.error === undefined)).toBe(true);
  });

  it('a device asks for an image by name ("download"); an unknown name is stored with the reason and answered with nothing', async () => {
    const { storage, deviceId, device } = await start();
    const data = new Uint8Array(randomBytes(3000));
    await addFirmware({ storage }, { name: 'firmware:v1.0.0', data: new Uint8Array(10) });
    await new Promise((resolve) => setTimeout(resolve, 2));
    // The newest image of the name, in the device's space, wins over a global one.
    await addFirmware({ storage }, { name: 'firmware:v1.0.0', data, spaceId: 'space-a' });
    expect(Buffer.from(await device.requestFirmware('firmware:v1.0.0')).equals(Buffer.from(data))).toBe(true);
    const [downlink] = await storage.listDownlinks(deviceId);
    expect(downlink).toMatchObject({ kind: 'firmware', state: 'acknowledged', payload: { requestedBy: 'device' } });

    await expect(device.requestFirmware('firmware:v9.9.9')).rejects.toMatchObject({ code: 'HARNESS_PROTOCOL' });
    const [unknown] = (await firmwareMessages(storage)).slice(-1);
    expect(unknown).toMatchObject({ body: { request: 'download' }, error: 'firmware "firmware:v9.9.9" is unknown' });
  });

  it('a download cancelled through the API stops: the device asks for the next chunk and gets none', async () => {
    let sends = 0;
    let cancel: () => Promise<unknown> = async () => {};
    const { storage, deviceId, device } = await start({
      // Cancel deterministically between two of the device's datagrams, halfway through the download.
      wrap: (send) => (datagram) => {
        if (++sends === 60) void cancel().then(() => send(datagram));
        else send(datagram);
      },
    });
    const image = await addFirmware({ storage }, { name: 'fw', data: new Uint8Array(randomBytes(40_000)) });
    const downlink = await scheduleDownlink({ storage }, deviceId, { kind: 'firmware', firmwareId: image.id });
    cancel = () => cancelDownlink({ storage }, downlink.id);
    const [first] = await device.poll();
    await expect(device.downloadFirmware(first as FirmwareChunk)).rejects.toMatchObject({
      code: 'HARNESS_PROTOCOL',
      message: expect.stringMatching(/no firmware chunk at offset/),
    });
    const after = await storage.getDownlink(downlink.id);
    expect(after?.state).toBe('cancelled');
    expect(after?.progress).toBeGreaterThan(0);
    expect(after?.progress).toBeLessThan(40_000);
    const [refused] = (await firmwareMessages(storage)).slice(-1);
    expect(refused?.error).toBe(`firmware download ${downlink.id} is cancelled`);
  });

  it('an error the device reports fails the downlink with the reason; another device cannot touch the download', async () => {
    const { storage, deviceId, device } = await start();
    const image = await addFirmware({ storage }, { name: 'fw', data: new Uint8Array(5000) });
    const downlink = await scheduleDownlink({ storage }, deviceId, { kind: 'firmware', firmwareId: image.id });
    const [first] = (await device.poll()).filter(isChunk);
    await device.send({
      type: 'upload-firmware',
      target: 'app',
      request: 'error',
      id: (first as FirmwareChunk).id,
      error: 'flash write failed',
    });
    await vi.waitFor(async () =>
      expect(await storage.getDownlink(downlink.id)).toMatchObject({
        state: 'failed',
        error: 'the device reported: flash write failed',
      }),
    );
    // A made-up id is unknown, whoever sends it.
    await device.send({
      type: 'upload-firmware',
      target: 'app',
      request: 'next',
      id: new Uint8Array(16),
      offset: 0,
      maxLength: 512,
    });
    const [last] = (await firmwareMessages(storage)).slice(-1);
    expect(last?.error).toBe('firmware download 00000000-0000-0000-0000-000000000000 is unknown');
  });
});
