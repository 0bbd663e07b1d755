// The callback worker: takes due deliveries from the outbox (leased, so several workers can share it and a dead one
// lets go), shapes each message with its callback's expression, sends it, and records the attempt: delivered,
// retried later (the callback's schedule with full jitter, Retry-After honoured), or dead after the schedule
// (replay on request). At least once: a delivery leaves the outbox only after a 2xx.
import type { CallbackConfig, Delivery, DeliveryUpdate, Storage, StoredMessage } from '@uplink/core';
import { uuidv7 } from '@uplink/core';
import { createDeliveryClient, type DeliveryClientOptions } from './delivery/client.js';
import { retryDelay as scheduleDelay } from './delivery/retry.js';
import { CallbackError } from './errors.js';
import { type CallbackMessage, callbackMessage } from './message.js';
import { compileExpression } from './transform/transform.js';

/** What one attempt reported (the delivery client's result). */
export interface AttemptOutcome {
  ok: boolean;
  status?: number;
  latencyMs: number;
  responseExcerpt?: string;
  error?: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/** One delivery attempt: the delivery client's `deliver`, or anything with its shape. */
export type Deliver = (
  callback: CallbackConfig,
  payload: unknown,
  options: { webhookId: string; timestamp: Date; raw: Uint8Array },
) => Promise<AttemptOutcome>;

/** Evaluates a callback's expression on a message (the transform engine). */
export type Transform = (expression: string, message: CallbackMessage) => unknown | Promise<unknown>;

export interface CallbackWorkerOptions {
  storage: Storage;
  /** One attempt. Default: a delivery client of the worker's own (`client` options), closed by `stop()`. */
  deliver?: Deliver;
  /** Options of that default client (`allow: ['127.0.0.1']` for a local endpoint, ...). */
  client?: DeliveryClientOptions;
  /** Shapes a message. Default: `compileExpression(expression).evaluate(message)` (compiled, cached, limited). */
  transform?: Transform;
  /** Delay of retry n (0-based) on a schedule, or undefined after it (dead letter). Default: full jitter. */
  retryDelay?: (attempt: number, schedule: readonly number[] | undefined) => number | undefined;
  /** Deliveries in flight at once. Default 16. */
  concurrency?: number;
  /** How often the outbox is polled when idle. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long a taken delivery is this worker's (longer than an attempt's timeout). Default 120 s. */
  leaseMs?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
  /** Callbacks are re-read after this long. Default 1,000 ms. */
  callbackCacheMs?: number;
  /** Called with what each attempt did (logs, metrics). */
  onAttempt?: (delivery: Delivery, outcome: AttemptOutcome, update: DeliveryUpdate) => void;
}

export interface CallbackWorkerStats {
  attempts: number;
  delivered: number;
  retried: number;
  dead: number;
  inFlight: number;
}

export interface CallbackWorker {
  /** Polls the outbox until stopped. */
  start(): void;
  /** Stops polling and waits for the attempts in flight. */
  stop(): Promise<void>;
  /** One pass: takes what is due (up to the free slots) and waits for those attempts; resolves to how many. */
  runOnce(): Promise<number>;
  readonly stats: CallbackWorkerStats;
}

export function createCallbackWorker(options: CallbackWorkerOptions): CallbackWorker {
  const { storage } = options;
  const ownClient = options.deliver ? undefined : createDeliveryClient(options.client);
  const deliver: Deliver =
    options.deliver ??
    ((target, payload, attempt) => (ownClient as NonNullable<typeof ownClient>).deliver(target, payload, attempt));
  const transform: Transform =
    options.transform ?? ((expression, message) => compileExpression(expression).evaluate(message));
  const retryDelay =
    options.retryDelay ??
    ((attempt: number, schedule: readonly number[] | undefined) => scheduleDelay(attempt, schedule));
  const concurrency = options.concurrency ?? 16;
  const pollMs = options.pollIntervalMs ?? 250;
  const leaseMs = options.leaseMs ?? 120_000;
  const clock = options.clock ?? Date.now;
  const cacheMs = options.callbackCacheMs ?? 1000;
  const stats: CallbackWorkerStats = { attempts: 0, delivered: 0, retried: 0, dead: 0, inFlight: 0 };
  const inFlight = new Set<Promise<void>>();
  let callbacks: { at: number; byId: Map<string, CallbackConfig>; ordered: string[] } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  const loadCallbacks = async () => {
    const now = clock();
    if (!callbacks || now - callbacks.at > cacheMs) {
      const all = await storage.listCallbacks();
      callbacks = {
        at: now,
        byId: new Map(all.map((callback) => [callback.id, callback])),
        ordered: all.filter((callback) => callback.ordered).map((callback) => callback.id),
      };
    }
    return callbacks;
  };

  const finish = async (delivery: Delivery, outcome: AttemptOutcome, callback: CallbackConfig | undefined) => {
    const now = clock();
    const attempts = delivery.attempts + 1;
    let update: DeliveryUpdate;
    if (outcome.ok) {
      update = { state: 'delivered', attempts, nextAttemptAt: new Date(now) };
      stats.delivered++;
    } else {
      const delay = outcome.retryable ? retryDelay(delivery.attempts, callback?.retrySchedule ?? undefined) : undefined;
      if (delay === undefined) {
        update = { state: 'dead', attempts, nextAttemptAt: new Date(now), lastError: outcome.error ?? 'failed' };
        stats.dead++;
      } else {
        // Retry-After (RFC 9110 10.2.3) when the endpoint asks for longer than the schedule.
        const wait = Math.max(delay, outcome.retryAfterMs ?? 0);
        update = {
          state: 'pending',
          attempts,
          nextAttemptAt: new Date(now + wait),
          lastError: outcome.error ?? 'failed',
        };
        stats.retried++;
      }
    }
    const attempt = {
      id: uuidv7(now),
      deliveryId: delivery.id,
      callbackId: delivery.callbackId,
      at: new Date(now),
      latencyMs: outcome.latencyMs,
      ...(outcome.status === undefined ? {} : { status: outcome.status }),
      ...(outcome.responseExcerpt === undefined ? {} : { responseExcerpt: outcome.responseExcerpt }),
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
    };
    await storage.finishAttempt(attempt, update);
    options.onAttempt?.(delivery, outcome, update);
  };

  const attempt = async (delivery: Delivery, callback: CallbackConfig | undefined): Promise<void> => {
    stats.attempts++;
    if (!callback) {
      // Deleted meanwhile (deleting a callback drops its pending deliveries; this one was taken already).
      await finish(
        delivery,
        { ok: false, retryable: false, latencyMs: 0, error: 'the callback no longer exists' },
        undefined,
      );
      return;
    }
    const message: StoredMessage | undefined = await storage.getMessage(delivery.messageId);
    if (!message) {
      await finish(
        delivery,
        { ok: false, retryable: false, latencyMs: 0, error: 'the message no longer exists' },
        callback,
      );
      return;
    }
    if (!callback.enabled) {
      // A disabled callback pauses: the delivery waits (an attempt is not counted against the schedule).
      await storage.finishAttempt(
        {
          id: uuidv7(clock()),
          deliveryId: delivery.id,
          callbackId: callback.id,
          at: new Date(clock()),
          latencyMs: 0,
          error: 'callback disabled: paused',
        },
        {
          state: 'pending',
          attempts: delivery.attempts,
          nextAttemptAt: new Date(clock() + 60_000),
          lastError: 'callback disabled',
        },
      );
      return;
    }
    const original = callbackMessage(message);
    let payload: unknown = original;
    if (callback.payload !== null) {
      try {
        payload = await transform(callback.payload, original);
      } catch (error) {
        // An expression that fails on this message will fail on every attempt: final, with the reason.
        const reason =
          error instanceof CallbackError ? error.message : `payload expression: ${(error as Error).message}`;
        await finish(delivery, { ok: false, retryable: false, latencyMs: 0, error: reason }, callback);
        return;
      }
    }
    const outcome = await deliver(callback, payload, {
      webhookId: delivery.id,
      timestamp: new Date(clock()),
      raw: message.raw,
    });
    await finish(delivery, outcome, callback);
  };

  /** Takes what is due, up to the free slots, and starts each attempt; resolves to the attempts started. */
  const claimAndStart = async (): Promise<Promise<void>[]> => {
    const free = concurrency - inFlight.size;
    if (free <= 0) return [];
    const known = await loadCallbacks();
    const due = await storage.claimDeliveries({
      now: new Date(clock()),
      limit: free,
      leaseMs,
      orderedCallbacks: known.ordered,
    });
    const jobs = due.map((delivery) => {
      const job: Promise<void> = attempt(delivery, known.byId.get(delivery.callbackId))
        .catch(() => {
          // A storage failure: the lease runs out and the delivery is taken again (at least once).
        })
        .finally(() => {
          inFlight.delete(job);
          stats.inFlight = inFlight.size;
        });
      inFlight.add(job);
      return job;
    });
    stats.inFlight = inFlight.size;
    return jobs;
  };

  const runOnce = async (): Promise<number> => {
    const jobs = await claimAndStart();
    await Promise.all(jobs);
    return jobs.length;
  };

  const tick = async () => {
    if (!running) return;
    try {
      // Take while there is work and room, without waiting for the attempts: a slow endpoint must not hold back
      // the next poll (its own concurrency limit is the delivery client's).
      while (running && (await claimAndStart()).length > 0);
    } catch {
      // The storage failed this poll; the next one tries again.
    } finally {
      if (running) {
        timer = setTimeout(tick, pollMs);
        timer.unref();
      }
    }
  };

  return {
    stats,
    runOnce,
    start() {
      if (running) return;
      running = true;
      void tick();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await Promise.all([...inFlight]);
      await ownClient?.close();
    },
  };
}
