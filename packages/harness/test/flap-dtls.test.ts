// flap-dtls end to end: a FlapDevice inside a DTLS 1.2 PSK connection (CCM_8, Connection ID with an empty own CID,
// identity hsn:<serial>) against @uplink/core's flap-dtls server: boot, codec upload, data, every kind of downlink
// and a firmware download.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { addFirmware, createMemoryStorage, type DownlinkMessage, scheduleDownlink, uuidv7 } from '@uplink/core';
import { createFlapDtlsServer, type FlapDtlsServer } from '@uplink/core/dtls';
import { connectDtls } from '@uplink/dtls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectFlapDtls, dtlsTransport, FlapDevice } from '../src/index.js';

const CODECS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/codec-hash',
);
const clime = loadCodec(readFileSync(join(CODECS, 'clime.decoder.yaml'), 'utf8'));
const demoEncoder = loadCodec(readFileSync(join(CODECS, 'demo.encoder.yaml'), 'utf8'));
const SERIAL = 2159017985;
const PSK = Uint8Array.from(Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex'));

type FirmwareChunk = Extract<DownlinkMessage, { type: 'download-firmware' }>;

let server: FlapDtlsServer | undefined;
let device: FlapDevice | undefined;
afterEach(async () => {
  device?.close();
  await server?.close();
  server = device = undefined;
});

async function start() {
  const storage = createMemoryStorage();
  const deviceId = uuidv7();
  await storage.createDevice({
    id: deviceId,
    serialNumber: SERIAL,
    // flap-dtls does not use it, but a device is registered with one.
    claimToken: new Uint8Array(randomBytes(16)),
    psk: PSK,
    name: 'clime-1',
    tags: [],
    labels: {},
    tenant: { spaceId: 's', groupId: 'g' },
  });
  server = createFlapDtlsServer({ storage, host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  return { storage, deviceId, port };
}

describe('FlapDevice over flap-dtls against the Uplink server', () => {
  it('boots, uploads its codecs, sends 200 data uplinks, receives a downlink of each kind and a firmware image', async () => {
    const { storage, deviceId, port } = await start();
    const connection = await connectDtls({
      host: '127.0.0.1',
      port,
      identity: `hsn:${SERIAL}`,
      psk: PSK,
      cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'],
      connectionId: new Uint8Array(0),
    });
    expect(connection.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    // The device sends with the server's 6-byte CID and asked for none on the server's records.
    expect(connection.peerConnectionId).toHaveLength(6);
    expect(connection.connectionId).toBeUndefined();
    device = new FlapDevice({ serial: SERIAL, framing: 'dtls', transport: dtlsTransport(connection) });

    const boot = await device.boot({ vendor: 'HARDWARIO', product: 'CHESTER-M', fwVersion: 'v3.1.0' });
    expect(boot[0]).toMatchObject({ type: 'set-session', deviceId, deviceName: 'clime-1' });
    await device.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
    await device.send({ type: 'upload-encoder', hash: demoEncoder.hash, codec: demoEncoder.cbor });

    for (let i = 0; i < 200; i++) {
      const cbor = clime.encode({ message: { sequence: i }, thermometer: { temperature: 20 + (i % 100) / 100 } });
      await device.send({ type: 'upload-data', hash: clime.hash, cbor });
    }
    const data = await storage.listMessages({ type: 'data', limit: 1000 });
    expect(data.items).toHaveLength(200);
    expect(data.items.every((m) => m.error === undefined && m.device_id === deviceId)).toBe(true);
    expect(data.items[0]?.body).toEqual({ message: { sequence: 199 }, thermometer: { temperature: 20.99 } });

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
    await vi.waitFor(async () =>
      expect((await storage.listDownlinks(deviceId)).map((d) => d.state)).toEqual(Array(4).fill('acknowledged')),
    );

    // A firmware image of 20 chunks, each of three FLAP fragments inside three DTLS records.
    const image = new Uint8Array(randomBytes(20_000));
    const firmware = await addFirmware(context, { name: 'firmware:v3.2.0', data: image });
    const downlink = await scheduleDownlink(context, deviceId, { kind: 'firmware', firmwareId: firmware.id });
    const [first] = await device.poll();
    expect(first).toMatchObject({ type: 'download-firmware', kind: 'first', firmwareSize: 20_000 });
    const received = await device.downloadFirmware(first as FirmwareChunk);
    expect(Buffer.from(received).equals(Buffer.from(image))).toBe(true);
    expect(await storage.getDownlink(downlink.id)).toMatchObject({ state: 'acknowledged', progress: 20_000 });

    // A new boot gets the codec hashes the server holds now.
    const reboot = await device.boot();
    expect(reboot[0]).toMatchObject({ type: 'set-session', decoderHash: clime.hash, encoderHash: demoEncoder.hash });
    expect(device.stats).toMatchObject({ resent: 0, ignored: 0, restarts: 0 });
    // One handshake carried it all; nothing was dropped.
    expect(server?.dtls.stats).toMatchObject({ handshakesStarted: 1, handshakesCompleted: 1, handshakesFailed: 0 });
    expect(server?.counters.dropped).toEqual({ garbage: 0, 'unknown-device': 0, busy: 0, error: 0 });
    // Every packet arrived (the last, a final ACK, is answered by nothing: wait for it).
    const sent = device.stats.sent;
    await vi.waitFor(() => expect(server?.counters.received).toBe(sent));
  }, 20_000);

  it('connectFlapDtls opens the connection as the firmware does; an unregistered serial is refused', async () => {
    const { storage, port } = await start();
    device = await connectFlapDtls({ host: '127.0.0.1', port, serial: SERIAL, psk: PSK });
    await device.boot();
    await device.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
    await device.send({ type: 'upload-data', hash: clime.hash, cbor: clime.encode({ message: { sequence: 1 } }) });
    expect((await storage.listMessages({ type: 'data' })).items[0]?.body).toEqual({ message: { sequence: 1 } });
    const [connection] = server?.dtls.connections ?? [];
    expect(connection).toMatchObject({ identity: `hsn:${SERIAL}`, cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8' });
    expect(connection?.connectionId).toHaveLength(6);

    await expect(connectFlapDtls({ host: '127.0.0.1', port, serial: 12345, psk: PSK })).rejects.toMatchObject({
      code: 'DTLS_ALERT',
      alert: 115, // unknown_psk_identity
    });
  });

  it('a dtls device ignores replies that are too short or not for the packet it waits on', async () => {
    let receive: (datagram: Uint8Array) => void = () => {};
    const sent: Uint8Array[] = [];
    device = new FlapDevice({
      serial: SERIAL,
      framing: 'dtls',
      timeoutMs: 200,
      retries: 0,
      transport: {
        send: (datagram) => {
          sent.push(datagram);
          // A stray byte, a reply to another sequence, then the ack of this one (sequence 1, ACK|POLL).
          receive(Uint8Array.of(0x20));
          receive(Uint8Array.of(0x20, 0x07));
          receive(Uint8Array.of(0x30, 0x01));
        },
        onDatagram: (next) => {
          receive = next;
        },
        close: () => {},
      },
    });
    expect(await device.send({ type: 'upload-data', hash: clime.hash, cbor: new Uint8Array(3) })).toBe(true);
    // [header: FIRST|LAST, sequence 0][message]: no hash, no serial.
    expect(
      Buffer.from(sent[0] as Uint8Array)
        .subarray(0, 2)
        .toString('hex'),
    ).toBe('c000');
    expect(device.stats).toMatchObject({ sent: 1, received: 1, ignored: 2 });
  });
});
