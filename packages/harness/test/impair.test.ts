import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createImpairedProxy, type ImpairedProxy, type ImpairedProxyOptions } from '../src/index.js';

// Everything a test opens, closed after it whatever happened.
const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

function closeSocket(socket: Socket): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
}

function bind(socket: Socket, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve(socket.address().port));
  });
}

interface Seen {
  data: Buffer;
  port: number;
}

/** The real peer: echoes every datagram back to its source and records what it saw. */
async function startEcho(host = '127.0.0.1'): Promise<{ port: number; seen: Seen[] }> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const seen: Seen[] = [];
  socket.on('message', (data, remote) => {
    seen.push({ data, port: remote.port });
    socket.send(data, remote.port, remote.address);
  });
  const port = await bind(socket, host);
  open.push(closeSocket(socket));
  return { port, seen };
}

/** A client that sends to the proxy and records the replies. */
async function startClient(
  proxy: ImpairedProxy,
): Promise<{ send(data: Buffer): void; replies: Buffer[]; port: number }> {
  const host = proxy.address.host;
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const replies: Buffer[] = [];
  socket.on('message', (data) => replies.push(data));
  await bind(socket, host);
  open.push(closeSocket(socket));
  return { send: (data) => socket.send(data, proxy.address.port, host), replies, port: socket.address().port };
}

async function startProxy(echoPort: number, options: Partial<ImpairedProxyOptions> = {}): Promise<ImpairedProxy> {
  const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port: echoPort }, seed: 1, ...options });
  open.push(() => proxy.close());
  return proxy;
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const numbered = (i: number) => Buffer.from(String(i));
const numbers = (datagrams: Buffer[]) => datagrams.map((d) => Number(d.toString()));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Sends 0..count-1 in batches of `batch`, waiting after each for the proxy to have taken the batch in and for
 * things to settle, so no datagram is lost in a kernel buffer: every loss counted is the proxy's.
 */
async function sendPaced(client: { send(data: Buffer): void }, proxy: ImpairedProxy, count: number, batch = 100) {
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    for (let i = start; i < end; i++) client.send(numbered(i));
    await until(() => proxy.stats.upstream.received === end);
    await until(() => proxy.stats.held === 0);
  }
}

describe('impaired UDP proxy', () => {
  it('without impairment forwards every datagram both ways, exactly and in order, from one source port', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port);
    const client = await startClient(proxy);
    for (const i of range(200)) client.send(numbered(i));
    await until(() => client.replies.length === 200);
    expect(numbers(echo.seen.map((s) => s.data))).toEqual(range(200));
    expect(numbers(client.replies)).toEqual(range(200));
    expect(new Set(echo.seen.map((s) => s.port)).size).toBe(1);
    expect(echo.seen[0]?.port).not.toBe(client.port);
    expect(proxy.stats).toMatchObject({
      upstream: { received: 200, forwarded: 200, dropped: 0, duplicated: 0, reordered: 0, discarded: 0 },
      downstream: { received: 200, forwarded: 200, dropped: 0, duplicated: 0, reordered: 0, discarded: 0 },
      clients: 1,
      held: 0,
      errors: 0,
    });
  });

  it('a loss of 1 drops every datagram and counts it', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { loss: 1 });
    const client = await startClient(proxy);
    for (const i of range(20)) client.send(numbered(i));
    await until(() => proxy.stats.upstream.received === 20);
    await sleep(30);
    expect(echo.seen).toHaveLength(0);
    expect(client.replies).toHaveLength(0);
    expect(proxy.stats.upstream).toMatchObject({ received: 20, dropped: 20, forwarded: 0 });
  });

  it('a downstream-only loss of 1 lets requests through and drops every reply', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { downstream: { loss: 1 } });
    const client = await startClient(proxy);
    for (const i of range(20)) client.send(numbered(i));
    await until(() => proxy.stats.downstream.dropped === 20);
    expect(echo.seen).toHaveLength(20);
    expect(client.replies).toHaveLength(0);
  });

  it('a loss of 0.3 drops about 30% of 2,000 datagrams in each direction, and every survivor arrives', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { loss: 0.3, seed: 42 });
    const client = await startClient(proxy);
    await sendPaced(client, proxy, 2000);
    const { upstream, downstream } = proxy.stats;
    expect(upstream.received).toBe(2000);
    expect(upstream.dropped / 2000).toBeGreaterThan(0.26);
    expect(upstream.dropped / 2000).toBeLessThan(0.34);
    expect(echo.seen).toHaveLength(2000 - upstream.dropped);
    await until(() => downstream.received === echo.seen.length);
    expect(downstream.dropped / downstream.received).toBeGreaterThan(0.26);
    expect(downstream.dropped / downstream.received).toBeLessThan(0.34);
    await until(() => client.replies.length === downstream.received - downstream.dropped);
  });

  it('the same seed drops and duplicates the same datagrams in each direction, and another seed others', async () => {
    // The seed decides the fate of the n-th datagram of each direction; timers (reordering, jitter) decide the order.
    // Upstream is kept free of timers so the replies reach the proxy in the same order in every run.
    const sorted = (datagrams: Buffer[]) => numbers(datagrams).sort((x, y) => x - y);
    const delivered = async (seed: number) => {
      const echo = await startEcho();
      const proxy = await startProxy(echo.port, {
        loss: 0.4,
        duplicate: 0.2,
        downstream: { reorder: 0.2, jitterMs: 2 },
        seed,
      });
      const client = await startClient(proxy);
      await sendPaced(client, proxy, 300);
      await until(() => proxy.stats.held === 0 && proxy.stats.downstream.received === echo.seen.length);
      await until(() => client.replies.length === proxy.stats.downstream.forwarded);
      expect(proxy.seed).toBe(seed);
      return { target: sorted(echo.seen.map((s) => s.data)), client: sorted(client.replies) };
    };
    const first = await delivered(7);
    expect(await delivered(7)).toEqual(first);
    expect(await delivered(8)).not.toEqual(first);
  });

  it('a duplicate of 1 sends every datagram twice in each direction', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { duplicate: 1 });
    const client = await startClient(proxy);
    for (const i of range(20)) client.send(numbered(i));
    await until(() => client.replies.length === 80);
    expect(numbers(echo.seen.map((s) => s.data))).toEqual(range(20).flatMap((i) => [i, i]));
    expect(numbers(client.replies).sort((a, b) => a - b)).toEqual(range(20).flatMap((i) => [i, i, i, i]));
    expect(proxy.stats.upstream).toMatchObject({ received: 20, duplicated: 20, forwarded: 40 });
    expect(proxy.stats.downstream).toMatchObject({ received: 40, duplicated: 40, forwarded: 80 });
  });

  it('a reorder of 1 sends each datagram after the next one, and loses none', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { upstream: { reorder: 1, reorderDelayMs: 1000 } });
    const client = await startClient(proxy);
    for (const i of range(10)) client.send(numbered(i));
    await until(() => client.replies.length === 10);
    expect(numbers(echo.seen.map((s) => s.data))).toEqual([1, 0, 3, 2, 5, 4, 7, 6, 9, 8]);
    expect(proxy.stats.upstream.reordered).toBe(5);
    expect(proxy.stats.downstream.reordered).toBe(0);
  });

  it('a reorder of 0.3 changes the order of 500 datagrams but loses none', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { reorder: 0.3, seed: 3 });
    const client = await startClient(proxy);
    await sendPaced(client, proxy, 500);
    await until(() => client.replies.length === 500);
    const order = numbers(echo.seen.map((s) => s.data));
    expect(order).not.toEqual(range(500));
    expect([...order].sort((a, b) => a - b)).toEqual(range(500));
    expect(proxy.stats.upstream.reordered).toBeGreaterThan(50);
  });

  it('a held-back datagram with no successor is sent after reorderDelayMs', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { upstream: { reorder: 1, reorderDelayMs: 40 } });
    const client = await startClient(proxy);
    const start = performance.now();
    client.send(numbered(1));
    await until(() => client.replies.length === 1);
    expect(performance.now() - start).toBeGreaterThanOrEqual(35);
    expect(proxy.stats.upstream.reordered).toBe(0);
  });

  it('delayMs delays each direction, and jitter loses nothing', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { delayMs: 50, jitterMs: 20 });
    const client = await startClient(proxy);
    const start = performance.now();
    for (const i of range(50)) client.send(numbered(i));
    await until(() => client.replies.length === 50);
    // Two one-way delays of at least 50 ms; timers may fire a millisecond early, hence 95.
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
    expect(numbers(client.replies).sort((a, b) => a - b)).toEqual(range(50));
    expect(proxy.stats.held).toBe(0);
  });

  it('datagrams over maxHeld are discarded and counted, not queued', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { upstream: { delayMs: 30 }, maxHeld: 10 });
    const client = await startClient(proxy);
    for (const i of range(30)) client.send(numbered(i));
    await until(() => proxy.stats.upstream.received === 30);
    expect(proxy.stats.held).toBe(10);
    await until(() => client.replies.length === 10);
    expect(proxy.stats.upstream).toMatchObject({ forwarded: 10, discarded: 20 });
  });

  it('rebindEvery gives the client a new source port at the target, and the replies still reach it', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { rebindEvery: 5 });
    const client = await startClient(proxy);
    for (const i of range(15)) {
      client.send(numbered(i));
      await until(() => client.replies.length === i + 1);
    }
    expect(numbers(client.replies)).toEqual(range(15));
    const ports = echo.seen.map((s) => s.port);
    expect(new Set(ports).size).toBe(3);
    for (const group of [0, 5, 10]) expect(new Set(ports.slice(group, group + 5)).size).toBe(1);
    expect(proxy.stats.rebinds).toBe(2);
  });

  it('each client has its own source at the target and gets only its own replies', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port);
    const clients = await Promise.all(range(3).map(() => startClient(proxy)));
    for (const i of range(30)) clients[i % 3]?.send(numbered(i));
    await until(() => clients.every((c) => c.replies.length === 10));
    clients.forEach((client, c) => {
      expect(numbers(client.replies)).toEqual(range(10).map((i) => i * 3 + c));
    });
    expect(new Set(echo.seen.map((s) => s.port)).size).toBe(3);
    expect(proxy.stats.clients).toBe(3);
  });

  it('maxClients evicts the least recently active client, whose next datagram gets a new mapping', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { maxClients: 2 });
    const [a, b, c] = await Promise.all(range(3).map(() => startClient(proxy)));
    if (!a || !b || !c) throw new Error('three clients');
    const exchange = async (client: typeof a, i: number) => {
      client.send(numbered(i));
      await until(() => client.replies.some((r) => r.toString() === String(i)));
      return echo.seen.at(-1)?.port;
    };
    const aFirst = await exchange(a, 0);
    await exchange(b, 1);
    await exchange(c, 2);
    expect(proxy.stats).toMatchObject({ clients: 2, evicted: 1 });
    const aSecond = await exchange(a, 3);
    expect(aSecond).not.toBe(aFirst);
    expect(proxy.stats).toMatchObject({ clients: 2, evicted: 2 });
  });

  it('a client idle for idleTimeoutMs loses its mapping', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { idleTimeoutMs: 40 });
    const client = await startClient(proxy);
    client.send(numbered(0));
    await until(() => client.replies.length === 1);
    expect(proxy.stats.clients).toBe(1);
    await until(() => proxy.stats.clients === 0);
    expect(proxy.stats.evicted).toBe(1);
  });

  it('setImpairment({}) heals the network mid-run', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { loss: 1, rebindEvery: 1 });
    const client = await startClient(proxy);
    for (const i of range(10)) client.send(numbered(i));
    await until(() => proxy.stats.upstream.dropped === 10);
    proxy.setImpairment({});
    for (const i of range(10)) client.send(numbered(10 + i));
    await until(() => client.replies.length === 10);
    expect(numbers(client.replies)).toEqual(range(10).map((i) => 10 + i));
    expect(proxy.stats.rebinds).toBe(0);
  });

  it('rejects an option out of range with a code and the option name', async () => {
    const bad: Array<[Partial<ImpairedProxyOptions>, string]> = [
      [{ loss: 1.5 }, 'loss'],
      [{ upstream: { duplicate: -1 } }, 'upstream.duplicate'],
      [{ downstream: { jitterMs: Number.NaN } }, 'downstream.jitterMs'],
      [{ rebindEvery: 0 }, 'rebindEvery'],
      [{ maxClients: 0 }, 'maxClients'],
      [{ target: { host: 'localhost', port: 1 } }, 'target.host'],
      [{ host: 'example' }, 'host'],
    ];
    for (const [options, name] of bad) {
      await expect(startProxy(1, options)).rejects.toMatchObject({
        code: 'HARNESS_INVALID_OPTION',
        message: expect.stringContaining(`${name} must be`),
      });
    }
    const proxy = await startProxy(1);
    expect(() => proxy.setImpairment({ reorder: 2 })).toThrow(/reorder must be/);
  });

  it('a port in use rejects with the system error', async () => {
    const taken = createSocket('udp4');
    open.push(closeSocket(taken));
    const port = await bind(taken, '127.0.0.1');
    await expect(startProxy(1, { port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('empty and 65,507-byte datagrams pass both ways', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port, { delayMs: 1 });
    const client = await startClient(proxy);
    const big = Buffer.alloc(65_507, 0xa5);
    client.send(Buffer.alloc(0));
    client.send(big);
    await until(() => client.replies.length === 2);
    expect(client.replies.map((r) => r.length).sort((x, y) => x - y)).toEqual([0, 65_507]);
    expect(client.replies.find((r) => r.length > 0)?.equals(big)).toBe(true);
    expect(proxy.stats.errors).toBe(0);
  });

  it('datagrams to a mapping from anyone but the target are discarded', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.port);
    const client = await startClient(proxy);
    client.send(numbered(0));
    await until(() => client.replies.length === 1);
    const mapped = echo.seen[0]?.port ?? 0;
    const stranger = createSocket('udp4');
    open.push(closeSocket(stranger));
    stranger.send(Buffer.from('spoofed'), mapped, '127.0.0.1');
    await until(() => proxy.stats.downstream.discarded === 1);
    expect(client.replies).toHaveLength(1);
  });

  it('close() discards held datagrams, releases every socket and is idempotent', async () => {
    const echo = await startEcho();
    const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port: echo.port }, delayMs: 10_000 });
    const client = await startClient(proxy);
    client.send(numbered(0));
    await until(() => proxy.stats.held === 1);
    await Promise.all([proxy.close(), proxy.close()]);
    expect(proxy.stats).toMatchObject({ held: 0, clients: 0, upstream: { discarded: 1 } });
    // The listening port is free again.
    const again = createSocket('udp4');
    open.push(closeSocket(again));
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(proxy.address.port, '127.0.0.1', () => resolve());
    });
  });

  const ipv6 = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
  it.skipIf(!ipv6)('works over IPv6 loopback (::1)', async () => {
    const echo = await startEcho('::1');
    const proxy = await startProxy(echo.port, {
      host: '::1',
      target: { host: '::1', port: echo.port },
      rebindEvery: 2,
    });
    expect(proxy.address.host).toBe('::1');
    const client = await startClient(proxy);
    for (const i of range(4)) {
      client.send(numbered(i));
      await until(() => client.replies.length === i + 1);
    }
    expect(numbers(client.replies)).toEqual(range(4));
    expect(new Set(echo.seen.map((s) => s.port)).size).toBe(2);
  });
});
