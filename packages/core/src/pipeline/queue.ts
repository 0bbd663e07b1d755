// The pipeline's event queue: one interface, an in-process reference implementation (the default), and a
// contract suite in `@uplink/core/testing` (a RabbitMQ adapter comes later).
import type { Downlink, MaybePromise, Session, StoredMessage } from '../storage/types.js';

/** What the pipeline publishes after the storage has it. */
export type PipelineEvent =
  | { type: 'message.stored'; message: StoredMessage }
  | { type: 'session.created'; session: Session }
  | { type: 'downlink.changed'; downlink: Downlink };

export interface Subscription {
  /** Stops delivery; resolves when the consumer's current event is done. */
  unsubscribe(): Promise<void>;
}

export interface EventQueue<E> {
  /**
   * Publishes an event to every subscriber. Resolves once every subscriber's buffer has room for it: a slow
   * consumer slows the publisher (backpressure) instead of growing memory.
   */
  publish(event: E): MaybePromise<void>;
  /** Delivers every later event to `consumer`, one at a time, in publish order. A throwing consumer gets `onError`. */
  subscribe(
    consumer: (event: E) => MaybePromise<void>,
    options?: { onError?: (error: unknown, event: E) => void },
  ): Subscription;
  close(): MaybePromise<void>;
}

export interface MemoryQueueOptions {
  /** Events buffered per subscriber before `publish` waits. Default 1,000. */
  maxBuffered?: number;
}

interface Subscriber<E> {
  consumer: (event: E) => MaybePromise<void>;
  onError: (error: unknown, event: E) => void;
  buffer: E[];
  running: Promise<void> | undefined;
  draining: boolean;
  active: boolean;
  /** Publishers waiting for room. */
  waiting: (() => void)[];
}

/** The in-process event queue: fan-out to subscribers, bounded buffers, backpressure on publish. */
export function createMemoryQueue<E>(options: MemoryQueueOptions = {}): EventQueue<E> {
  const maxBuffered = options.maxBuffered ?? 1000;
  const subscribers = new Set<Subscriber<E>>();
  let closed = false;

  const drain = (subscriber: Subscriber<E>): void => {
    // A flag set and cleared synchronously guards the loop: a consumer that throws at once ends the loop before
    // `running` is even assigned, so `running` alone cannot tell whether a loop is active.
    if (subscriber.draining) return;
    subscriber.draining = true;
    subscriber.running = (async () => {
      try {
        while (subscriber.active && subscriber.buffer.length > 0) {
          const event = subscriber.buffer.shift() as E;
          subscriber.waiting.shift()?.();
          try {
            await subscriber.consumer(event);
          } catch (error) {
            subscriber.onError(error, event);
          }
        }
      } finally {
        subscriber.draining = false;
      }
    })();
  };

  return {
    async publish(event) {
      if (closed) throw new Error('[pipeline] the queue is closed');
      for (const subscriber of subscribers) {
        while (subscriber.active && subscriber.buffer.length >= maxBuffered) {
          await new Promise<void>((resolve) => subscriber.waiting.push(resolve));
        }
        if (!subscriber.active) continue;
        subscriber.buffer.push(event);
        drain(subscriber);
      }
    },
    subscribe(consumer, subscribeOptions = {}) {
      const subscriber: Subscriber<E> = {
        consumer,
        onError:
          subscribeOptions.onError ??
          ((error) => queueMicrotask(() => console.error('[pipeline] consumer failed:', error))),
        buffer: [],
        running: undefined,
        draining: false,
        active: true,
        waiting: [],
      };
      subscribers.add(subscriber);
      return {
        async unsubscribe() {
          subscriber.active = false;
          subscribers.delete(subscriber);
          for (const wake of subscriber.waiting.splice(0)) wake();
          await subscriber.running;
        },
      };
    },
    async close() {
      closed = true;
      // Deliver what is buffered, then stop.
      await Promise.all([...subscribers].map((s) => s.running));
      for (const subscriber of subscribers) {
        subscriber.active = false;
        for (const wake of subscriber.waiting.splice(0)) wake();
      }
      subscribers.clear();
    },
  };
}
