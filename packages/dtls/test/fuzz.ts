// Fuzzes the DTLS server and client with random and mutated datagrams at every handshake state, in process (no
// sockets): each run is a real handshake between a client and a server wired back to back, with fast-check
// deciding, datagram by datagram and in both directions, what the network does: deliver, drop, duplicate, corrupt
// (bit flips, cuts, growth, random bytes, records doubled) or inject garbage before it. A run passes when no
// exception escapes, the handshake completes or fails with a DtlsError, nothing hangs (each run has a deadline)
// and the server's state stays bounded. Otherwise the script prints the seed, the run and the plan, and exits 1.
//
//   pnpm --filter @uplink/dtls run fuzz -- --runs 5000 --seed 42
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { DtlsConnection, type DtlsPeer } from '../src/connection.js';
import { resolveCipherSuites } from '../src/crypto/suites.js';
import { DtlsError } from '../src/errors.js';
import { createDtlsServer } from '../src/server.js';

const args = process.argv.slice(2).filter((arg) => arg !== '--');
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const RUNS = option('runs', 500);
const SEED = option('seed', Date.now() % 2 ** 31);

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i * 7);
const CLIENT: DtlsPeer = { address: '192.0.2.10', port: 40000, family: 'IPv4' };

const corruption = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
  fc.record({ kind: fc.constant('double' as const) }),
);
type Corruption = typeof corruption extends fc.Arbitrary<infer T> ? T : never;
/** What the network does to one datagram. */
const fate = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'deliver' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('corrupt' as const), how: corruption }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('inject' as const), how: corruption }) },
);
type Fate = typeof fate extends fc.Arbitrary<infer T> ? T : never;

function corrupt(datagram: Uint8Array, how: Corruption): Uint8Array {
  const copy = datagram.slice();
  switch (how.kind) {
    case 'flip':
      if (copy.length > 0) copy[how.at % copy.length] = (copy[how.at % copy.length] as number) ^ (1 << how.bit);
      return copy;
    case 'cut':
      return copy.subarray(0, how.at % (copy.length + 1));
    case 'grow':
      return Uint8Array.from([...copy, ...how.extra]);
    case 'random':
      return how.bytes;
    case 'double':
      return Uint8Array.from([...copy, ...copy]);
  }
}

interface Outcome {
  result: 'completed' | 'failed';
  serverConnections: number;
}

/** One handshake (and one echoed record) through a network that follows `plan`. */
async function run(plan: { up: Fate[]; down: Fate[]; suite: number; cid: boolean }): Promise<Outcome> {
  const server = createDtlsServer({
    psk: (identity) => (identity === 'hsn:1' ? KEY : undefined),
    retransmit: { initialMs: 5, maxMs: 20, maxRetransmits: 6 },
  });
  server.on('connectionError', () => {});
  server.on('secureConnection', (connection) => {
    connection.on('error', () => {});
    connection.on('data', (data: Uint8Array) => connection.send(data));
  });
  let up = 0;
  let down = 0;
  const deliver = (fates: Fate[], index: number, datagram: Uint8Array, to: (d: Uint8Array) => void) => {
    const what = fates[index % Math.max(1, fates.length)] ?? { kind: 'deliver' as const };
    // Asynchronously, as a socket would: never re-enter the sender.
    const later = (d: Uint8Array) => setImmediate(() => to(d));
    switch (what.kind) {
      case 'deliver':
        return later(datagram);
      case 'drop':
        return;
      case 'duplicate':
        later(datagram);
        return later(datagram);
      case 'corrupt':
        return later(corrupt(datagram, what.how));
      case 'inject':
        later(corrupt(datagram, what.how));
        return later(datagram);
    }
  };
  let client: DtlsConnection | undefined;
  server.attach((datagram) => deliver(plan.down, down++, datagram, (d) => client?.receive(d, CLIENT)));
  client = new DtlsConnection({
    role: 'client',
    peer: { address: '192.0.2.1', port: 5684, family: 'IPv4' },
    send: (datagram) => deliver(plan.up, up++, datagram, (d) => server.handleDatagram(d, CLIENT)),
    cipherSuites: resolveCipherSuites([plan.suite]),
    mtu: 1200,
    identity: 'hsn:1',
    key: KEY,
    retransmit: { initialMs: 5, maxMs: 20, maxRetransmits: 6 },
    ...(plan.cid ? { ownCid: new Uint8Array(0) } : {}),
  });
  const connection = client;
  const result = await new Promise<'completed' | 'failed'>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('a run did not end within 5 s (a hang)')), 5000);
    const end = (outcome: 'completed' | 'failed') => {
      clearTimeout(deadline);
      resolve(outcome);
    };
    connection.on('error', (error: Error) => {
      if (error instanceof DtlsError) end('failed');
      else {
        clearTimeout(deadline);
        reject(error);
      }
    });
    connection.once('close', () => end('failed'));
    connection.once('secure', () => {
      // One record each way; the network may eat it: a missing echo within 50 ms still counts as completed.
      const timer = setTimeout(() => end('completed'), 50);
      connection.once('data', () => {
        clearTimeout(timer);
        end('completed');
      });
      connection.send(Uint8Array.of(1, 2, 3));
    });
    connection.start();
  });
  const serverConnections = server.connections.length;
  connection.destroy();
  await server.close();
  return { result, serverConnections };
}

const suites = [0xc0a8, 0xc0a4, 0x00a8, 0x00a9, 0x00ae, 0x008c, 0x008d];
const counts = { completed: 0, failed: 0 };
const started = performance.now();
let progress = 0;
try {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        up: fc.array(fate, { minLength: 1, maxLength: 12 }),
        down: fc.array(fate, { minLength: 1, maxLength: 12 }),
        suite: fc.constantFrom(...suites),
        cid: fc.boolean(),
      }),
      async (plan) => {
        const outcome = await run(plan);
        counts[outcome.result]++;
        // One client: the server never holds more than its connection (a replaced one is gone).
        if (outcome.serverConnections > 1)
          throw new Error(`${outcome.serverConnections} server connections for one client`);
        if (++progress % 500 === 0)
          process.stderr.write(`  ${progress}/${RUNS} runs, ${counts.completed} completed, ${counts.failed} failed\n`);
      },
    ),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
} catch (error) {
  console.error(`dtls fuzz: FAILED with seed ${SEED}\n${(error as Error).message}`);
  process.exit(1);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `dtls fuzz: ${RUNS} handshakes through a corrupting network (seed ${SEED}) in ${seconds.toFixed(1)} s: ` +
    `${counts.completed} completed, ${counts.failed} failed cleanly with a DtlsError, no other exception, no hang`,
);
if (counts.completed === 0) {
  console.error('dtls fuzz: no handshake completed: the network model or the stack is broken');
  process.exit(1);
}
process.exit(0);
