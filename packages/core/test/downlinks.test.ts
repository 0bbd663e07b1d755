import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCodec } from '@uplink/codec';
import { describe, expect, it } from 'vitest';
import {
  addFirmware,
  cancelDownlink,
  createMemoryQueue,
  createMemoryStorage,
  type Device,
  type PipelineEvent,
  type Storage,
  scheduleDownlink,
} from '../src/index.js';
import { CTR_CLOUD, registerBootDevice } from './fixtures.js';

const demoEncoder = loadCodec(readFileSync(join(CTR_CLOUD, '../codec-hash/demo.encoder.yaml'), 'utf8'));

async function setup(): Promise<{ storage: Storage; device: Device; events: PipelineEvent[] }> {
  const storage = createMemoryStorage();
  const device = await registerBootDevice(storage);
  const events: PipelineEvent[] = [];
  return { storage, device, events };
}

const rejects = (promise: Promise<unknown>, code: string, message: RegExp) =>
  expect(promise).rejects.toMatchObject({ code, message: expect.stringMatching(message) });

describe('scheduling downlinks', () => {
  it('queues each kind with its payload, publishes downlink.changed, in order', async () => {
    const { storage, device } = await setup();
    const queue = createMemoryQueue<PipelineEvent>();
    const seen: string[] = [];
    queue.subscribe((event) => {
      if (event.type === 'downlink.changed') seen.push(`${event.downlink.kind}:${event.downlink.state}`);
    });
    const context = { storage, events: queue };
    const image = await addFirmware(context, { name: 'firmware:v1.0.0', data: new Uint8Array(100).fill(1) });
    await scheduleDownlink(context, device.id, { kind: 'config', lines: ['app config interval-report 900'] });
    await scheduleDownlink(context, device.id, { kind: 'shell', commands: ['app config show'] });
    await scheduleDownlink(context, device.id, { kind: 'firmware', firmwareId: image.id });
    await scheduleDownlink(context, device.id, { kind: 'reboot' });
    await queue.close();
    const pending = await storage.listDownlinks(device.id, 'pending');
    expect(pending.map((d) => [d.kind, d.payload])).toEqual([
      ['config', { lines: ['app config interval-report 900'] }],
      ['shell', { commands: ['app config show'] }],
      ['firmware', { firmwareId: image.id, name: 'firmware:v1.0.0' }],
      ['reboot', null],
    ]);
    expect(seen).toEqual(['config:pending', 'shell:pending', 'firmware:pending', 'reboot:pending']);
  });

  it('refuses what a device could not take, naming what is wrong', async () => {
    const { storage, device } = await setup();
    const context = { storage };
    await rejects(
      scheduleDownlink(context, 'nobody', { kind: 'reboot' }),
      'DOWNLINK_INVALID',
      /device nobody is not registered/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'config', lines: ['app config a 1\r\nreboot'] }),
      'DOWNLINK_INVALID',
      /lines\[0\]: control characters/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'shell', commands: [] }),
      'DOWNLINK_INVALID',
      /a list of 1 to 16 lines/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'config', lines: Array(65).fill('app config x 1') }),
      'DOWNLINK_INVALID',
      /1 to 64 lines/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'data', body: [] as never }),
      'DOWNLINK_INVALID',
      /body must be an object/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'firmware', firmwareId: 'missing' }),
      'DOWNLINK_INVALID',
      /image missing is unknown/,
    );
    const foreign = await addFirmware(context, { name: 'other', data: Uint8Array.of(1), spaceId: 'another-space' });
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'firmware', firmwareId: foreign.id }),
      'DOWNLINK_INVALID',
      /is unknown/,
    );
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'format' } as never),
      'DOWNLINK_INVALID',
      /unknown downlink kind "format"/,
    );
    expect(await storage.listDownlinks(device.id)).toEqual([]);
  });

  it('checks a data downlink against the encoder the device has, when the server holds it', async () => {
    const { storage, device } = await setup();
    await storage.putCodec({ hash: demoEncoder.hash, type: 'encoder', cbor: demoEncoder.cbor, createdAt: new Date() });
    await storage.updateDevice(device.id, { encoderHash: demoEncoder.hash });
    await rejects(
      scheduleDownlink({ storage }, device.id, { kind: 'data', body: { no_such_field: 1 } }),
      'DOWNLINK_INVALID',
      /data downlink for test-device-s0-985: .*no_such_field/,
    );
    const ok = await scheduleDownlink({ storage }, device.id, { kind: 'data', body: { led_r: 1 } });
    expect(ok.payload).toEqual({ body: { led_r: 1 } });
  });

  it('bounds the downlinks pending per device', async () => {
    const { storage, device } = await setup();
    const context = { storage, maxPendingPerDevice: 2 };
    await scheduleDownlink(context, device.id, { kind: 'reboot' });
    await scheduleDownlink(context, device.id, { kind: 'reboot' });
    await rejects(
      scheduleDownlink(context, device.id, { kind: 'reboot' }),
      'DOWNLINK_LIMIT',
      /has 2 downlinks pending/,
    );
  });
});

describe('cancelling downlinks', () => {
  it('cancels a pending downlink and a firmware download under way; refuses what the device already has', async () => {
    const { storage, device } = await setup();
    const queue = createMemoryQueue<PipelineEvent>();
    const states: string[] = [];
    queue.subscribe((event) => {
      if (event.type === 'downlink.changed') states.push(event.downlink.state);
    });
    const context = { storage, events: queue };
    const shell = await scheduleDownlink(context, device.id, { kind: 'shell', commands: ['app config show'] });
    expect(await cancelDownlink(context, shell.id)).toMatchObject({ state: 'cancelled' });
    await rejects(cancelDownlink(context, shell.id), 'DOWNLINK_STATE', /is cancelled; only pending shell downlinks/);

    const reboot = await scheduleDownlink(context, device.id, { kind: 'reboot' });
    await storage.setDownlinkState(reboot.id, 'sent', new Date());
    await rejects(cancelDownlink(context, reboot.id), 'DOWNLINK_STATE', /is sent; only pending reboot/);

    const image = await addFirmware(context, { name: 'fw', data: new Uint8Array(10) });
    const firmware = await scheduleDownlink(context, device.id, { kind: 'firmware', firmwareId: image.id });
    await storage.setDownlinkState(firmware.id, 'sent', new Date());
    expect(await cancelDownlink(context, firmware.id)).toMatchObject({ state: 'cancelled' });
    await rejects(cancelDownlink(context, 'missing'), 'DOWNLINK_INVALID', /downlink missing is unknown/);
    await queue.close();
    expect(states).toEqual(['pending', 'cancelled', 'pending', 'pending', 'cancelled']);
  });
});

describe('firmware images', () => {
  it('are stored with their size and SHA-256, and bounded', async () => {
    const { storage } = await setup();
    const data = new TextEncoder().encode('abc');
    const image = await addFirmware({ storage }, { name: 'firmware:v1.0.0', data });
    expect(image).toMatchObject({
      name: 'firmware:v1.0.0',
      size: 3,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      spaceId: null,
    });
    expect(await storage.readFirmware(image.id, 0, 10)).toEqual(data);
    await rejects(addFirmware({ storage }, { name: '', data }), 'DOWNLINK_INVALID', /firmware name/);
    await rejects(
      addFirmware({ storage }, { name: 'x', data: new Uint8Array(0) }),
      'DOWNLINK_INVALID',
      /1 to 16777216 bytes/,
    );
  });
});
