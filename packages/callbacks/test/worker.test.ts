// The callback pipeline end to end: a device's message through the conversation engine, its deliveries planned
// and stored with it, the worker shaping it with the callback's expression and sending it with the real delivery
// client to a real local HTTP server: retries, dead letters, replay, final errors, ordering.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConversationEngine,
  createMemoryStorage,
  type Device,
  FLAP_FLAGS,
  packMessage,
  type Storage,
} from '@uplink/core';
import { newDevice } from '@uplink/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallbackInput,
  type CallbackWorker,
  createCallbackWorker,
  createDeliveryPlanner,
  retryDelay,
  validateCallback,
} from '../src/index.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** A real HTTP server answering with the given statuses in turn (the last one repeats). */
async function sink(statuses: number[] = [200]) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'busy');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

const tenant = { spaceId: 'space-a', groupId: 'group-1' };
const SECRET = `whsec_${Buffer.from('uplink-test-secret-0123456789').toString('base64')}`;

async function pipeline(callbackInput: Omit<CallbackInput, 'tenant'>, options: { schedule?: number[] } = {}) {
  const storage: Storage = createMemoryStorage();
  const device = (await storage.createDevice(newDevice({ tenant }))) as Device;
  const callback = validateCallback({ tenant, ...callbackInput });
  await storage.putCallback(callback);
  const engine = new ConversationEngine({ storage, deliveries: createDeliveryPlanner(storage) });
  // The worker's defaults: its own delivery client and the compiled transforms.
  const worker: CallbackWorker = createCallbackWorker({
    storage,
    client: { allow: ['127.0.0.1'] },
    retryDelay: (attempt, schedule) => retryDelay(attempt, schedule ?? options.schedule ?? [0, 0], () => 0),
  });
  cleanup.push(() => worker.stop());
  let sequence = 0;
  const send = async (body: Uint8Array) => {
    const reply = await engine.handle(device, {
      serial: device.serialNumber,
      sequence,
      flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST,
      data: packMessage({ type: 'upload-data', hash: 0n, cbor: body }),
    });
    sequence = (reply?.sequence ?? sequence) + 1;
  };
  return { storage, device, callback, worker, send };
}

describe('callback pipeline: engine -> outbox -> worker -> HTTP', () => {
  it('shapes a stored message with the callback expression and delivers it, signed, with a stable webhook-id', async () => {
    const target = await sink();
    const { storage, worker, send, device } = await pipeline({
      name: 'backend',
      url: target.url,
      headers: [['Authorization', 'Bearer token-1']],
      payload: '{ "device": device_name, "kind": type, "error": error }',
      secret: SECRET,
    });
    await send(Uint8Array.of(0xa0));
    expect(await worker.runOnce()).toBe(1);
    expect(target.received).toHaveLength(1);
    const [request] = target.received;
    expect(request?.method).toBe('POST');
    expect(request?.headers.authorization).toBe('Bearer token-1');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      device: device.name,
      kind: 'data',
      error: 'the device sent no codec hash (0)',
    });
    const [delivery] = (await storage.listDeliveries({})).items;
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(request?.headers['webhook-id']).toBe(delivery?.id);
    // Standard Webhooks, checked here independently: HMAC-SHA256(secret bytes, "id.timestamp.body"), base64.
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const signed = `${request?.headers['webhook-id']}.${request?.headers['webhook-timestamp']}.${request?.body}`;
    expect(request?.headers['webhook-signature']).toBe(
      `v1,${createHmac('sha256', key).update(signed).digest('base64')}`,
    );
    const [attempt] = (await storage.listAttempts(delivery?.id ?? '')).items;
    expect(attempt).toMatchObject({ status: 200, responseExcerpt: 'ok' });
  });

  it('retries a flaky endpoint with the same webhook-id until it answers 2xx', async () => {
    const target = await sink([503, 503, 200]);
    const { storage, worker, send } = await pipeline({ name: 'flaky', url: target.url }, { schedule: [0, 0, 0] });
    await send(Uint8Array.of(0xa0));
    for (let i = 0; i < 3; i++) await worker.runOnce();
    const [delivery] = (await storage.listDeliveries({})).items;
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(new Set(target.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery?.id]));
    expect((await storage.listAttempts(delivery?.id ?? '')).items.map((a) => a.status)).toEqual([200, 503, 503]);
  });

  it('dead-letters after the schedule, and a replay delivers once the endpoint is back', async () => {
    const target = await sink([500, 500, 500, 200]);
    const { storage, worker, send } = await pipeline({ name: 'down', url: target.url }, { schedule: [0, 0] });
    await send(Uint8Array.of(0xa0));
    for (let i = 0; i < 4; i++) await worker.runOnce();
    const [dead] = (await storage.listDeliveries({ state: 'dead' })).items;
    expect(dead).toMatchObject({ attempts: 3, lastError: expect.stringMatching(/500/) });
    expect(worker.stats).toMatchObject({ attempts: 3, retried: 2, dead: 1 });
    await storage.replayDelivery(dead?.id ?? '', new Date());
    await worker.runOnce();
    expect(await storage.getDelivery(dead?.id ?? '')).toMatchObject({ state: 'delivered' });
    expect(target.received).toHaveLength(4);
  });

  it('a 4xx other than 408/429 is final at once; an expression that fails is final with its reason', async () => {
    const target = await sink([404]);
    const { storage, worker, send } = await pipeline({ name: 'gone', url: target.url });
    await send(Uint8Array.of(0xa0));
    await worker.runOnce();
    expect((await storage.listDeliveries({})).items[0]).toMatchObject({ state: 'dead', attempts: 1 });

    const other = await sink();
    const broken = await pipeline({
      name: 'bad expression',
      url: other.url,
      payload: '$number("not a number") + $undefinedFunction()',
    });
    await broken.send(Uint8Array.of(0xa0));
    await broken.worker.runOnce();
    expect((await broken.storage.listDeliveries({})).items[0]).toMatchObject({
      state: 'dead',
      lastError: expect.stringMatching(/payload expression|undefinedFunction|T1006/),
    });
    expect(other.received).toHaveLength(0);
  });

  it('an ordered callback delivers its messages one at a time, in order, even when one needs retries', async () => {
    const target = await sink([503, 200]);
    const { worker, send } = await pipeline(
      { name: 'ordered', url: target.url, ordered: true, payload: 'id' },
      { schedule: [0, 0, 0] },
    );
    for (let i = 0; i < 4; i++) await send(Uint8Array.of(0xa1, 0x01, i));
    for (let i = 0; i < 8; i++) await worker.runOnce();
    const bodies = target.received.map((r) => JSON.parse(r.body) as string);
    // The first was tried twice, then each in turn: never a later one before an earlier one is delivered.
    expect(bodies.length).toBe(5);
    expect(bodies[0]).toBe(bodies[1]);
    expect([...bodies.slice(1)].sort()).toEqual(bodies.slice(1));
  });
});
