import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { createFlapUdpServer, createMemoryStorage, scheduleDownlink, uuidv7 } from '@uplink/core';
import { describe, expect, it } from 'vitest';
import { createImpairedProxy, FlapDevice } from '../src/index.js';

const CODECS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/codec-hash',
);
const clime = loadCodec(readFileSync(join(CODECS, 'clime.decoder.yaml'), 'utf8'));

describe('a fleet over an impaired network (loss, duplication, reordering, jitter, NAT rebinding)', () => {
  it('every message the devices saw acked is stored exactly once, and every downlink arrives', async () => {
    const storage = createMemoryStorage();
    const server = createFlapUdpServer({ storage, host: '127.0.0.1', binaryPort: 0, base64Port: 0 });
    const { binaryPort } = await server.listen();
    const proxy = await createImpairedProxy({
      target: { host: '127.0.0.1', port: binaryPort },
      loss: 0.1,
      duplicate: 0.1,
      reorder: 0.1,
      jitterMs: 4,
      rebindEvery: 25,
      seed: 20261122,
    });
    const DEVICES = 8;
    const MESSAGES = 40;
    const fleet = await Promise.all(
      Array.from({ length: DEVICES }, async (_, index) => {
        const claimToken = Uint8Array.from({ length: 16 }, (_, i) => (index * 31 + i * 7) & 0xff);
        const serialNumber = 2_159_000_000 + index;
        const device = await storage.createDevice({
          id: uuidv7(),
          serialNumber,
          claimToken,
          name: `clime-${index}`,
          tags: [],
          labels: {},
          tenant: { spaceId: 's', groupId: 'g' },
        });
        const client = new FlapDevice({
          serial: serialNumber,
          claimToken,
          host: proxy.address.host,
          port: proxy.address.port,
          timeoutMs: 60,
          retries: 20,
        });
        return { device, client };
      }),
    );
    try {
      const received = await Promise.all(
        fleet.map(async ({ device, client }) => {
          await client.boot({ vendor: 'HARDWARIO' });
          // 8 fragments: a lost or duplicated one in the middle must not corrupt or repeat the upload.
          await client.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
          await scheduleDownlink({ storage }, device.id, {
            kind: 'shell',
            commands: [`app config show ${device.name}`],
          });
          const downlinks = [];
          for (let i = 0; i < MESSAGES; i++) {
            const cbor = clime.encode({ message: { sequence: i }, thermometer: { temperature: 20 + i / 10 } });
            if (await client.send({ type: 'upload-data', hash: clime.hash, cbor }))
              downlinks.push(...(await client.poll()));
          }
          return { device, client, downlinks };
        }),
      );
      for (const { device, client, downlinks } of received) {
        const stored = (await storage.listMessages({ deviceId: device.id, type: 'data', limit: 1000 })).items;
        expect(stored.every((m) => m.error === undefined)).toBe(true);
        const sequences = stored
          .map((m) => (m.body as { message: { sequence: number } }).message.sequence)
          .sort((a, b) => a - b);
        expect(sequences, device.name).toEqual([...Array(MESSAGES).keys()]);
        expect((await storage.listMessages({ deviceId: device.id, type: 'decoder' })).items).toHaveLength(1);
        expect((await storage.getDevice(device.id))?.decoderHash).toBe(clime.hash);
        expect(downlinks.filter((d) => d.type === 'download-shell').length).toBeGreaterThanOrEqual(1);
        // The shell's final ACK may be lost: the next packet of the device settles it.
        expect((await storage.listDownlinks(device.id)).map((d) => d.state)).toEqual(['acknowledged']);
        expect(client.stats.resent).toBeGreaterThan(0);
      }
      const { upstream, downstream, rebinds } = proxy.stats;
      // The network did what it was told (about 1,000 datagrams each way).
      expect(upstream.dropped + downstream.dropped).toBeGreaterThan(5);
      expect(upstream.duplicated + downstream.duplicated).toBeGreaterThan(5);
      expect(upstream.reordered + downstream.reordered).toBeGreaterThan(5);
      expect(rebinds).toBeGreaterThan(DEVICES);
      expect(server.stats.resends + server.stats.duplicates).toBeGreaterThan(0);
      console.log(
        `impaired fleet: ${JSON.stringify({ proxy: proxy.stats, server: server.stats, resent: received.reduce((n, r) => n + r.client.stats.resent, 0) })}`,
      );
    } finally {
      for (const { client } of fleet) client.close();
      await proxy.close();
      await server.close();
    }
  }, 60_000);
});
