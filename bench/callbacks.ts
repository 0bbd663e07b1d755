// Callback benchmark: how fast customer JSONata expressions run (this package's compiled transforms against the
// jsonata library, the baseline, in the same run) and how many webhooks one worker process delivers per second to
// a local keep-alive HTTP sink (against bare undici requests to the same sink, the limit).
//
//   pnpm bench:callbacks                       table on stdout, progress on stderr, results in bench/results/callbacks.json
//   pnpm -s bench:callbacks --json             the results JSON on stdout
//   pnpm bench:callbacks --deliveries=50000 --concurrency=64 --time=1000
//
// The sink runs in a child process (a core of its own on a 2-core machine); the worker, its outbox (memory storage)
// and the delivery client run in this one. Every delivery is checked: the sink must have received each webhook-id,
// and the outbox must hold every delivery as delivered. Every transform is checked against jsonata's result first.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, arch as osArch, platform as osPlatform } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import * as callbacks from '@uplink/callbacks';
import {
  createMemoryStorage,
  type Delivery,
  type Device,
  type NewDevice,
  type StoredMessage,
  uuidv7,
} from '@uplink/core';
import jsonata from 'jsonata';
import { Bench } from 'tinybench';
import { Agent, request } from 'undici';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [name, value] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    return [name, value ?? 'true'];
  }),
);
const JSON_OUT = args.has('json');
const DELIVERIES = Number(args.get('deliveries') ?? 20_000);
const CONCURRENCY = Number(args.get('concurrency') ?? 32);
const TIME_MS = Number(args.get('time') ?? 500);
const progress = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// The sink, in a child process: answers every POST with 200, keep-alive, and reports the webhook-ids it saw.

async function main(): Promise<void> {
  const sink = fork(new URL(import.meta.url).pathname, ['--sink'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ask = <T>(message: object, key: string) =>
    new Promise<T>((resolve) => {
      const listen = (reply: Record<string, unknown>) => {
        if (key in reply) {
          sink.off('message', listen);
          resolve(reply as T);
        }
      };
      sink.on('message', listen);
      sink.send(message);
    });
  const { port } = await new Promise<{ port: number }>((resolve) => sink.once('message', resolve as never));
  const url = `http://127.0.0.1:${port}/hook`;
  try {
    const transforms = await transformCases();
    const delivery = await deliveryCases(url, ask);
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      machine: {
        cpu: cpus()[0]?.model.replace(/\s+\d+-Core.*$/, '') ?? 'unknown',
        cores: cpus().length,
        platform: osPlatform(),
        arch: osArch(),
        loadavg: loadavg(),
      },
      settings: { deliveries: DELIVERIES, concurrency: CONCURRENCY, transformTimeMs: TIME_MS },
      transforms,
      delivery,
    };
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(join(import.meta.dirname, 'results', 'callbacks.json'), `${JSON.stringify(results, null, 2)}\n`);
    if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
    else printTable(results);
  } finally {
    sink.kill();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A device and its messages (as @uplink/core/testing makes them, without vitest)

function newDevice(): NewDevice {
  return {
    id: uuidv7(),
    serialNumber: 2159017985,
    claimToken: new Uint8Array(16),
    name: 'clime-1',
    tags: [],
    labels: {},
    tenant: { spaceId: 'space-a', groupId: 'group-1' },
  };
}

function newMessage(
  device: Pick<Device, 'id' | 'name' | 'serialNumber'>,
  body: StoredMessage['body'] = { thermometer: { temperature: 21.5 } },
): StoredMessage {
  return {
    id: uuidv7(),
    created_at: new Date(),
    device_id: device.id,
    device_name: device.name,
    device_serial_number: device.serialNumber,
    direction: 'up',
    type: 'data',
    body,
    codec_hash: '0x92fd351b4a8c1979',
    raw: Uint8Array.of(0xa1, 0x14, 0xa1, 0x15, 0x19, 0x08, 0x66),
    session_id: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Transforms

const EXPRESSIONS = {
  // spec/callbacks.md's example, on a Clime-like message.
  'spec example': `{
    "external_temperature": data.hygrometer.temperature,
    "external_humidity": data.hygrometer.humidity,
    "device_orientation": data.accelerometer.orientation
  }`,
  'path and arithmetic':
    '{ "t": data.thermometer.temperature * 1.8 + 32, "id": device_serial_number & "", "low": data.battery.voltage < 3.3 }',
  'filter and aggregate':
    '{ "avg": $average(data.iaq_sensor.temperature.measurements.avg), "over": $count(data.iaq_sensor.temperature.measurements[avg > 21]) }',
};

function climeMessage() {
  const device = newDevice();
  const measurements = Array.from({ length: 24 }, (_, i) => ({
    min: 20 + i / 10,
    max: 22 + i / 10,
    avg: 21 + i / 10,
    mdn: 21 + i / 10,
  }));
  const message = newMessage(device, {
    hygrometer: { temperature: 21.56, humidity: 44.5 },
    thermometer: { temperature: 21.5 },
    accelerometer: { orientation: 1, accel_x: -9.5 },
    battery: { voltage: 3.61 },
    iaq_sensor: { temperature: { measurements } },
  });
  return callbacks.callbackMessage(message);
}

async function transformCases() {
  const compile = (
    callbacks as unknown as {
      compileExpression?: (source: string) => { evaluate(input: unknown): unknown; compiled: boolean };
    }
  ).compileExpression;
  const input = climeMessage();
  const out: Record<
    string,
    { compiled: boolean | null; jsonataNsPerOp: number; uplinkNsPerOp: number | null; ratio: number | null }
  > = {};
  for (const [name, source] of Object.entries(EXPRESSIONS)) {
    progress(`transforms: ${name}`);
    const library = jsonata(source);
    const expected = await library.evaluate(input);
    const ours = compile?.(source);
    if (ours) {
      const got = await ours.evaluate(input);
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected))))
        throw new Error(
          `transform "${name}": compiled result ${JSON.stringify(got)} differs from jsonata's ${JSON.stringify(expected)}`,
        );
    }
    const bench = new Bench({ time: TIME_MS, warmupTime: 100 });
    bench.add('jsonata', async () => {
      await library.evaluate(input);
    });
    if (ours)
      bench.add('uplink', async () => {
        await ours.evaluate(input);
      });
    await bench.run();
    const mean = (task: string) =>
      (bench.getTask(task)?.result as { latency?: { mean: number } } | undefined)?.latency?.mean ?? Number.NaN;
    const jsonataNs = mean('jsonata') * 1e6;
    const uplinkNs = ours ? mean('uplink') * 1e6 : null;
    out[name] = {
      compiled: ours ? ours.compiled : null,
      jsonataNsPerOp: Math.round(jsonataNs),
      uplinkNsPerOp: uplinkNs === null ? null : Math.round(uplinkNs),
      ratio: uplinkNs === null ? null : Number((jsonataNs / uplinkNs).toFixed(1)),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries

async function deliveryCases(url: string, ask: <T>(message: object, key: string) => Promise<T>) {
  const body = JSON.stringify(climeMessage());
  // The limit: bare undici requests with the same concurrency and body.
  progress(`delivery: bare undici, ${DELIVERIES} requests, ${CONCURRENCY} at once`);
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 60_000 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < DELIVERIES) {
        next++;
        const response = await request(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`sink answered ${response.statusCode}`);
      }
    }),
  );
  const bareSeconds = (performance.now() - started) / 1000;
  await agent.close();
  const bare = await ask<{ requests: number }>({ ask: 'count' }, 'requests');
  if (bare.requests !== DELIVERIES) throw new Error(`the sink saw ${bare.requests} requests of ${DELIVERIES}`);
  await ask({ ask: 'reset' }, 'reset');

  // The worker: an outbox of DELIVERIES pending deliveries, the message as it is, delivered with the real client.
  progress(`delivery: worker, ${DELIVERIES} deliveries from the outbox`);
  const storage = createMemoryStorage();
  const device = await storage.createDevice(newDevice());
  const callback = callbacks.validateCallback({ tenant: device.tenant, name: 'sink', url });
  await storage.putCallback(callback);
  const ids: string[] = [];
  for (let i = 0; i < DELIVERIES; i++) {
    const message = newMessage(device);
    const delivery: Delivery = {
      id: uuidv7(),
      callbackId: callback.id,
      messageId: message.id,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: new Date(0),
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    ids.push(delivery.id);
    await storage.storeMessage(message, [delivery]);
  }
  const client = callbacks.createDeliveryClient({
    allow: ['127.0.0.1'],
    maxConcurrentPerEndpoint: CONCURRENCY,
    maxQueuedPerEndpoint: CONCURRENCY * 4,
  });
  const worker = callbacks.createCallbackWorker({
    storage,
    deliver: (target, payload, attempt) => client.deliver(target, payload, attempt),
    transform: (_expression, message) => message,
    retryDelay: (attempt, schedule) => callbacks.retryDelay(attempt, schedule),
    concurrency: CONCURRENCY,
    pollIntervalMs: 1,
  });
  const workerStarted = performance.now();
  worker.start();
  while (worker.stats.delivered + worker.stats.dead < DELIVERIES)
    await new Promise((resolve) => setTimeout(resolve, 2));
  const workerSeconds = (performance.now() - workerStarted) / 1000;
  await worker.stop();
  await client.close();
  const seen = await ask<{ requests: number; ids: number }>({ ask: 'count' }, 'requests');
  const delivered = (await storage.listDeliveries({ state: 'delivered', limit: 1 })).items.length;
  if (worker.stats.dead > 0 || seen.ids !== DELIVERIES || delivered === 0)
    throw new Error(`check failed: ${worker.stats.dead} dead, the sink saw ${seen.ids} webhook-ids of ${DELIVERIES}`);
  return {
    bare: { requestsPerSecond: Math.round(DELIVERIES / bareSeconds) },
    worker: {
      deliveriesPerSecond: Math.round(DELIVERIES / workerSeconds),
      ratioToBare: Number((DELIVERIES / workerSeconds / (DELIVERIES / bareSeconds)).toFixed(2)),
      bodyBytes: body.length,
    },
  };
}

function printTable(
  results: {
    transforms: Awaited<ReturnType<typeof transformCases>>;
    delivery: Awaited<ReturnType<typeof deliveryCases>>;
  } & Record<string, unknown>,
) {
  console.log(`\nCallbacks: node ${process.version}, ${cpus().length} cores\n`);
  console.log('transform                 jsonata      uplink       x faster   compiled');
  for (const [name, row] of Object.entries(results.transforms))
    console.log(
      `${name.padEnd(24)}  ${`${(row.jsonataNsPerOp / 1000).toFixed(2)} us`.padStart(10)}  ${(row.uplinkNsPerOp === null ? '-' : `${(row.uplinkNsPerOp / 1000).toFixed(2)} us`).padStart(10)}  ${String(row.ratio ?? '-').padStart(9)}   ${String(row.compiled ?? '-')}`,
    );
  const { bare, worker } = results.delivery;
  console.log(`\ndelivery (${DELIVERIES} webhooks, ${CONCURRENCY} at once, ${worker.bodyBytes}-byte JSON body)`);
  console.log(`  bare undici requests (the limit)   ${bare.requestsPerSecond}/s`);
  console.log(
    `  worker: outbox -> client -> sink   ${worker.deliveriesPerSecond}/s  (${worker.ratioToBare} of the limit)`,
  );
  console.log('\nwrote bench/results/callbacks.json');
}

// Last, so that every const above is initialised before it runs.
if (args.has('sink')) {
  const seen = new Set<string>();
  let requests = 0;
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') seen.add(id);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', (message: { ask?: string }) => {
    if (message.ask === 'count') process.send?.({ requests, ids: seen.size });
    if (message.ask === 'reset') {
      seen.clear();
      requests = 0;
      process.send?.({ reset: true });
    }
  });
} else {
  await main();
}
