import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { createFlapUdpServer, createMemoryStorage, type FlapUdpServer, scheduleDownlink, uuidv7 } from '@uplink/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FlapDevice } from '../src/index.js';

const CODECS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/codec-hash',
);
const clime = loadCodec(readFileSync(join(CODECS, 'clime.decoder.yaml'), 'utf8'));
const demoEncoder = loadCodec(readFileSync(join(CODECS, 'demo.encoder.yaml'), 'utf8'));
const claimToken = Uint8Array.from(Buffer.from('98a8856ba6534bd5212176b22f3acbb3', 'hex'));
const SERIAL = 2159017985;

let server: FlapUdpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('FLAP device client against the Uplink server, over real UDP', () => {
  for (const framing of ['binary', 'base64'] as const) {
    it(`boots, uploads its codecs, sends 1,000 data uplinks and receives a downlink of each kind (${framing})`, async () => {
      const storage = createMemoryStorage();
      const deviceId = uuidv7();
      await storage.createDevice({
        id: deviceId,
        serialNumber: SERIAL,
        claimToken,
        name: 'clime-1',
        tags: [],
        labels: {},
        tenant: { spaceId: 's', groupId: 'g' },
      });
      server = createFlapUdpServer({ storage, host: '127.0.0.1', binaryPort: 0, base64Port: 0 });
      const ports = await server.listen();
      const device = new FlapDevice({
        serial: SERIAL,
        claimToken,
        host: '127.0.0.1',
        port: framing === 'binary' ? ports.binaryPort : ports.base64Port,
        framing,
      });

      const boot = await device.boot({ vendor: 'HARDWARIO', product: 'CHESTER-M', fwVersion: 'v3.0.0' });
      expect(boot[0]).toMatchObject({ type: 'set-session', deviceId, deviceName: 'clime-1' });
      expect(boot[0]).not.toHaveProperty('decoderHash');
      await device.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
      await device.send({ type: 'upload-encoder', hash: demoEncoder.hash, codec: demoEncoder.cbor });

      for (let i = 0; i < 1000; i++) {
        const cbor = clime.encode({ message: { sequence: i }, thermometer: { temperature: 20 + (i % 100) / 100 } });
        await device.send({ type: 'upload-data', hash: clime.hash, cbor });
      }
      const data = await storage.listMessages({ type: 'data', limit: 1000 });
      expect(data.items).toHaveLength(1000);
      expect(data.items.every((m) => m.error === undefined)).toBe(true);
      expect(data.items[0]?.body).toEqual({ message: { sequence: 999 }, thermometer: { temperature: 20.99 } });

      const context = { storage };
      await scheduleDownlink(context, deviceId, { kind: 'data', body: { led_r: 1, led_load: 0 } });
      await scheduleDownlink(context, deviceId, { kind: 'config', lines: ['app config interval-report 900'] });
      await scheduleDownlink(context, deviceId, { kind: 'shell', commands: ['app config show'] });
      await scheduleDownlink(context, deviceId, { kind: 'reboot' });
      const downlinks = await device.poll();
      expect(downlinks.map((d) => d.type)).toEqual([
        'download-data',
        'download-config',
        'download-shell',
        'request-reboot',
      ]);
      const [dataDownlink] = downlinks;
      expect(dataDownlink?.type === 'download-data' && demoEncoder.decode(dataDownlink.cbor).body).toEqual({
        led_r: 1,
        led_load: 0,
      });
      // The final ACK of the last one expects no reply: the device does not wait for it to arrive.
      await vi.waitFor(async () =>
        expect((await storage.listDownlinks(deviceId)).map((d) => d.state)).toEqual([
          'acknowledged',
          'acknowledged',
          'acknowledged',
          'acknowledged',
        ]),
      );
      // A new boot gets the codec hashes the server now holds, so the device need not upload them again.
      const reboot = await device.boot();
      expect(reboot[0]).toMatchObject({ type: 'set-session', decoderHash: clime.hash, encoderHash: demoEncoder.hash });
      expect(device.stats.resent).toBe(0);
      device.close();
    }, 60_000);
  }
});
