// A network impairment proxy for loopback tests: datagrams between clients and one target pass through it and
// are lost, duplicated, reordered and delayed on purpose, and a client's source port changes as behind a NAT
// that rebinds. Every client gets its own upstream socket, so the target sees one source per client, as it would
// see devices behind a NAT. Decisions come from a seeded PRNG so a failing run can be replayed.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { BlockList, isIP } from 'node:net';
import { HarnessError } from './errors.js';

/** Impairment of one direction. Probabilities are 0..1 and apply to each datagram independently. */
export interface LinkImpairment {
  /** Probability that a datagram is dropped. Default 0. */
  loss?: number;
  /** Probability that a datagram is sent twice. Default 0. */
  duplicate?: number;
  /** Probability that a datagram is held back and sent right after the next one of its client. Default 0. */
  reorder?: number;
  /** How long a held-back datagram waits for a next one before it is sent anyway. Default 20 ms. */
  reorderDelayMs?: number;
  /** Fixed one-way delay. Default 0. */
  delayMs?: number;
  /** Extra one-way delay, uniform in 0..jitterMs; datagrams may overtake each other. Default 0. */
  jitterMs?: number;
}

/**
 * The impairment of a proxy: the `LinkImpairment` fields apply to both directions, `upstream` (client to target)
 * and `downstream` (target to client) override them field by field.
 */
export interface ImpairmentOptions extends LinkImpairment {
  upstream?: LinkImpairment;
  downstream?: LinkImpairment;
  /**
   * NAT rebinding: after every `rebindEvery` upstream datagrams of a client, its upstream socket is replaced by one
   * on a new ephemeral port. Replies the target sends to the old port afterwards are lost, as behind a real NAT.
   * Default: never.
   */
  rebindEvery?: number;
}

export interface ImpairedProxyOptions extends ImpairmentOptions {
  /** Where datagrams go: an IP address (v4 or v6) and port. */
  target: { host: string; port: number };
  /** Address clients send to: an IP address. Default '127.0.0.1'; '::1' for IPv6. */
  host?: string;
  /** Port clients send to. Default 0 (ephemeral; read it from `address`). */
  port?: number;
  /**
   * PRNG seed (uint32). Default: random, readable as `proxy.seed` to replay a failing run. Each direction has its
   * own stream: the same seed and the same arrival order give the same decisions.
   */
  seed?: number;
  /** Clients (source address and port) mapped at once; the least recently active is evicted. Default 64. */
  maxClients?: number;
  /** A client silent this long in both directions loses its mapping. Default 120,000 ms (RFC 4787 REQ-5). */
  idleTimeoutMs?: number;
  /** Datagrams waiting out `delayMs` and `jitterMs` at once, both directions; more are discarded. Default 1,024. */
  maxHeld?: number;
}

/** Counters of one direction. `forwarded` counts every copy sent, duplicates included. */
export interface ImpairedLinkStats {
  received: number;
  forwarded: number;
  /** Dropped by the `loss` impairment. */
  dropped: number;
  /** Extra copies made by the `duplicate` impairment. */
  duplicated: number;
  /** Sent right after a datagram that arrived later. */
  reordered: number;
  /**
   * Dropped by the proxy itself rather than the impairment: over `maxHeld`, due after their client was evicted or
   * the proxy closed, or (downstream) sent to an upstream socket by anyone but the target.
   */
  discarded: number;
}

export interface ImpairedProxyStats {
  upstream: ImpairedLinkStats;
  downstream: ImpairedLinkStats;
  /** Clients mapped now. */
  clients: number;
  /** Mappings removed for `maxClients` or `idleTimeoutMs`. */
  evicted: number;
  /** Upstream sockets replaced for `rebindEvery`. */
  rebinds: number;
  /** Datagrams held now for a delay or a reorder. */
  held: number;
  /** Socket errors (failed sends, ICMP errors); counted, never thrown. */
  errors: number;
}

export interface ImpairedProxy {
  /** Where clients send. */
  readonly address: { host: string; port: number };
  /** The PRNG seed in use; pass it back as `seed` to replay the same decisions. */
  readonly seed: number;
  /** Live counters. */
  readonly stats: ImpairedProxyStats;
  /** Replaces the whole impairment from now on (`setImpairment({})` heals the network); mappings are kept. */
  setImpairment(impairment: ImpairmentOptions): void;
  /** Discards held datagrams, closes every socket and clears every timer; resolves once the sockets are closed. */
  close(): Promise<void>;
}

type Direction = 'upstream' | 'downstream';

const defaultOptions = {
  host: '127.0.0.1',
  port: 0,
  maxClients: 64,
  // RFC 4787 REQ-5: a NAT's UDP mapping must not expire in less than 2 minutes.
  idleTimeoutMs: 120_000,
  maxHeld: 1024,
} as const;

const defaultLink: Required<LinkImpairment> = {
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 20,
  delayMs: 0,
  jitterMs: 0,
};

// setTimeout fires at once (with a warning) for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Held {
  datagram: Buffer;
  timer: NodeJS.Timeout;
}

interface Client {
  /** `address|port` of the client, the key of the mapping. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** The current mapping; replaced on rebinding. */
  upstream: Socket;
  /** The mapping being replaced, open until the new one is bound. */
  previous: Socket | undefined;
  /** Upstream datagrams sent so far, for `rebindEvery`. */
  sent: number;
  lastActive: number;
  /** At most one datagram per direction held back for reordering. */
  readonly held: Record<Direction, Held | undefined>;
  evicted: boolean;
}

/** mulberry32: small, fast, and good enough to make impairment decisions reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function invalid(name: string, expected: string, value: unknown): never {
  throw new HarnessError('HARNESS_INVALID_OPTION', `impair: ${name} must be ${expected}, got ${String(value)}`);
}

function checkRange(name: string, value: number | undefined, min: number, max: number, integer = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= min && value <= max) || (integer && !Number.isInteger(value)))
    invalid(name, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, value);
}

function checkLink(prefix: string, link: LinkImpairment | undefined): void {
  if (link === undefined) return;
  if (typeof link !== 'object' || link === null) invalid(prefix.slice(0, -1), 'an object', link);
  checkRange(`${prefix}loss`, link.loss, 0, 1);
  checkRange(`${prefix}duplicate`, link.duplicate, 0, 1);
  checkRange(`${prefix}reorder`, link.reorder, 0, 1);
  checkRange(`${prefix}reorderDelayMs`, link.reorderDelayMs, 0, MAX_TIMER_MS);
  checkRange(`${prefix}delayMs`, link.delayMs, 0, MAX_TIMER_MS);
  checkRange(`${prefix}jitterMs`, link.jitterMs, 0, MAX_TIMER_MS);
  if ((link.delayMs ?? 0) + (link.jitterMs ?? 0) > MAX_TIMER_MS)
    invalid(
      `${prefix}delayMs + ${prefix}jitterMs`,
      `at most ${MAX_TIMER_MS}`,
      (link.delayMs ?? 0) + (link.jitterMs ?? 0),
    );
}

/** Validates an impairment and resolves it into one complete setting per direction. */
function resolveImpairment(impairment: ImpairmentOptions): {
  links: Record<Direction, Required<LinkImpairment>>;
  rebindEvery: number;
} {
  checkLink('', impairment);
  checkLink('upstream.', impairment.upstream);
  checkLink('downstream.', impairment.downstream);
  checkRange('rebindEvery', impairment.rebindEvery, 1, Number.MAX_SAFE_INTEGER, true);
  const link = (direction: Direction): Required<LinkImpairment> => {
    const own = impairment[direction] ?? {};
    const pick = (field: keyof LinkImpairment) => own[field] ?? impairment[field] ?? defaultLink[field];
    return {
      loss: pick('loss'),
      duplicate: pick('duplicate'),
      reorder: pick('reorder'),
      reorderDelayMs: pick('reorderDelayMs'),
      delayMs: pick('delayMs'),
      jitterMs: pick('jitterMs'),
    };
  };
  return {
    links: { upstream: link('upstream'), downstream: link('downstream') },
    rebindEvery: impairment.rebindEvery ?? 0,
  };
}

const newLinkStats = (): ImpairedLinkStats => ({
  received: 0,
  forwarded: 0,
  dropped: 0,
  duplicated: 0,
  reordered: 0,
  discarded: 0,
});

/**
 * Starts an impairment proxy in front of `target`. Clients send to `proxy.address` instead of the target.
 *
 * @param options where to forward, where to listen, the impairment and the bounds.
 * @returns the listening proxy; `close()` it when done.
 * @example
 * const proxy = await createImpairedProxy({ target: { host: '127.0.0.1', port: 5002 }, loss: 0.1, seed: 7 });
 * const device = new FlapDevice({ serial, claimToken, host: proxy.address.host, port: proxy.address.port });
 * await device.boot(); // over a lossy network: the firmware's resends must get it through
 * proxy.setImpairment({}); // heal
 * await proxy.close();
 */
export async function createImpairedProxy(options: ImpairedProxyOptions): Promise<ImpairedProxy> {
  const { target } = options;
  if (typeof target !== 'object' || target === null) invalid('target', 'an object { host, port }', target);
  const targetFamily = isIP(target.host);
  if (targetFamily === 0) invalid('target.host', 'an IP address', target.host);
  checkRange('target.port', target.port, 1, 65535, true);
  const host = options.host ?? defaultOptions.host;
  if (isIP(host) === 0) invalid('host', 'an IP address', host);
  checkRange('port', options.port, 0, 65535, true);
  checkRange('seed', options.seed, 0, 0xffffffff, true);
  checkRange('maxClients', options.maxClients, 1, 1_000_000, true);
  checkRange('idleTimeoutMs', options.idleTimeoutMs, 1, MAX_TIMER_MS);
  checkRange('maxHeld', options.maxHeld, 0, 1_000_000, true);
  const maxClients = options.maxClients ?? defaultOptions.maxClients;
  const idleTimeoutMs = options.idleTimeoutMs ?? defaultOptions.idleTimeoutMs;
  const maxHeld = options.maxHeld ?? defaultOptions.maxHeld;
  let impairment = resolveImpairment(options);

  const seed = options.seed ?? Math.floor(Math.random() * 0x100000000);
  // One stream per direction, so the decisions in one direction do not depend on how the two interleave in time.
  const random: Record<Direction, () => number> = {
    upstream: mulberry32(seed),
    downstream: mulberry32(seed ^ 0x9e3779b9),
  };

  const stats: ImpairedProxyStats = {
    upstream: newLinkStats(),
    downstream: newLinkStats(),
    clients: 0,
    evicted: 0,
    rebinds: 0,
    held: 0,
    errors: 0,
  };
  // Clients by `address|port`, least recently active first (a Map keeps insertion order; activity re-inserts).
  const clients = new Map<string, Client>();
  // Timers of datagrams waiting out a delay, with their direction; at most maxHeld.
  const delayed = new Map<NodeJS.Timeout, Direction>();
  // Every open socket, the listener included, so close() can release them all.
  const sockets = new Set<Socket>();
  const fromTarget = new BlockList();
  fromTarget.addAddress(target.host, targetFamily === 6 ? 'ipv6' : 'ipv4');
  let closing: Promise<void> | undefined;

  const countError = () => {
    stats.errors++;
  };
  const afterSend = (error: Error | null) => {
    if (error) stats.errors++;
  };

  const closeSocket = (socket: Socket): Promise<void> =>
    new Promise((resolve) => {
      if (!sockets.delete(socket)) return resolve();
      socket.close(() => resolve());
    });

  const touch = (client: Client) => {
    client.lastActive = Date.now();
    if (clients.get(client.key) !== client) return;
    clients.delete(client.key);
    clients.set(client.key, client);
  };

  const openUpstream = (client: () => Client, onBound?: () => void): Socket => {
    const socket = createSocket(targetFamily === 6 ? 'udp6' : 'udp4');
    sockets.add(socket);
    socket.on('error', countError);
    socket.on('message', (datagram, remote: RemoteInfo) => {
      if (closing) return;
      stats.downstream.received++;
      // Address- and port-dependent filtering (RFC 4787 5): a mapping takes replies from its target only.
      if (
        remote.port !== target.port ||
        !fromTarget.check(remote.address, remote.family === 'IPv6' ? 'ipv6' : 'ipv4')
      ) {
        stats.downstream.discarded++;
        return;
      }
      touch(client());
      impair('downstream', client(), datagram);
    });
    // Bound explicitly so a rebinding socket holds its port before the old one is closed: the port must change.
    socket.bind(0, onBound);
    return socket;
  };

  const releaseHeld = (client: Client) => {
    for (const direction of ['upstream', 'downstream'] as const) {
      const held = client.held[direction];
      if (!held) continue;
      clearTimeout(held.timer);
      client.held[direction] = undefined;
      stats.held--;
      stats[direction].discarded++;
    }
  };

  const evict = (client: Client) => {
    clients.delete(client.key);
    stats.clients = clients.size;
    stats.evicted++;
    client.evicted = true;
    releaseHeld(client);
    void closeSocket(client.upstream);
    if (client.previous) void closeSocket(client.previous);
  };

  const clientFor = (remote: RemoteInfo): Client => {
    const key = `${remote.address}|${remote.port}`;
    const known = clients.get(key);
    if (known) {
      touch(known);
      return known;
    }
    if (clients.size >= maxClients) {
      const oldest = clients.values().next().value;
      if (oldest) evict(oldest);
    }
    const client: Client = {
      key,
      address: remote.address,
      port: remote.port,
      upstream: openUpstream(() => client),
      previous: undefined,
      sent: 0,
      lastActive: Date.now(),
      held: { upstream: undefined, downstream: undefined },
      evicted: false,
    };
    clients.set(key, client);
    stats.clients = clients.size;
    return client;
  };

  const deliver = (direction: Direction, client: Client, datagram: Buffer) => {
    if (closing) {
      stats[direction].discarded++;
      return;
    }
    if (direction === 'downstream') {
      // Already past the NAT: it reaches the client even if the mapping was evicted meanwhile.
      listener.send(datagram, client.port, client.address, afterSend);
    } else {
      if (client.evicted) {
        stats.upstream.discarded++;
        return;
      }
      const { rebindEvery } = impairment;
      if (rebindEvery > 0 && client.sent > 0 && client.sent % rebindEvery === 0) {
        const old = client.upstream;
        client.previous = old;
        client.upstream = openUpstream(
          () => client,
          () => {
            if (client.previous === old) client.previous = undefined;
            void closeSocket(old);
          },
        );
        stats.rebinds++;
      }
      client.sent++;
      client.upstream.send(datagram, target.port, target.host, afterSend);
    }
    stats[direction].forwarded++;
  };

  const afterDelay = (direction: Direction, client: Client, datagram: Buffer, link: Required<LinkImpairment>) => {
    // Drawn for every datagram, so the PRNG stream stays aligned whatever the jitter.
    const wait = link.delayMs + random[direction]() * link.jitterMs;
    if (wait <= 0) return deliver(direction, client, datagram);
    if (delayed.size >= maxHeld) {
      stats[direction].discarded++;
      return;
    }
    const timer = setTimeout(() => {
      delayed.delete(timer);
      stats.held--;
      deliver(direction, client, datagram);
    }, wait);
    timer.unref();
    delayed.set(timer, direction);
    stats.held++;
  };

  const afterReorder = (direction: Direction, client: Client, datagram: Buffer, link: Required<LinkImpairment>) => {
    // Drawn even when it goes unused: whether a datagram is held depends on timers, and the PRNG stream must not.
    const holdBack = random[direction]() < link.reorder;
    const held = client.held[direction];
    if (held) {
      clearTimeout(held.timer);
      client.held[direction] = undefined;
      stats.held--;
      afterDelay(direction, client, datagram, link);
      stats[direction].reordered++;
      afterDelay(direction, client, held.datagram, link);
      return;
    }
    if (holdBack) {
      // One slot per client and direction: the reorder holds are bounded by maxClients.
      const timer = setTimeout(() => {
        client.held[direction] = undefined;
        stats.held--;
        afterDelay(direction, client, datagram, impairment.links[direction]);
      }, link.reorderDelayMs);
      timer.unref();
      client.held[direction] = { datagram, timer };
      stats.held++;
      return;
    }
    afterDelay(direction, client, datagram, link);
  };

  const impair = (direction: Direction, client: Client, datagram: Buffer) => {
    const link = impairment.links[direction];
    const draw = random[direction];
    if (draw() < link.loss) {
      stats[direction].dropped++;
      return;
    }
    const copies = draw() < link.duplicate ? 2 : 1;
    stats[direction].duplicated += copies - 1;
    for (let copy = 0; copy < copies; copy++) afterReorder(direction, client, datagram, link);
  };

  const listener = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error) => {
      listener.close();
      reject(error);
    });
    listener.bind(options.port ?? defaultOptions.port, host, () => {
      listener.removeAllListeners('error');
      resolve();
    });
  });
  sockets.add(listener);
  listener.on('error', countError);
  listener.on('message', (datagram, remote) => {
    if (closing) return;
    stats.upstream.received++;
    impair('upstream', clientFor(remote), datagram);
  });

  // Clients are kept least recently active first, so the sweep stops at the first one still active.
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleTimeoutMs;
      for (const client of clients.values()) {
        if (client.lastActive > cutoff) break;
        evict(client);
      }
    },
    Math.max(1, Math.min(idleTimeoutMs / 2, 60_000)),
  );
  sweep.unref();

  const bound = listener.address();
  return {
    address: { host: bound.address, port: bound.port },
    seed,
    stats,
    setImpairment(next) {
      impairment = resolveImpairment(next);
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        for (const [timer, direction] of delayed) {
          clearTimeout(timer);
          stats.held--;
          stats[direction].discarded++;
        }
        delayed.clear();
        for (const client of clients.values()) releaseHeld(client);
        clients.clear();
        stats.clients = 0;
        await Promise.all([...sockets].map(closeSocket));
      })();
      return closing;
    },
  };
}
