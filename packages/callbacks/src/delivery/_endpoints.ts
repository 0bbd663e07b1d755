// Per-endpoint (per-origin) state of the delivery client: a concurrency limit with a bounded wait queue, and a
// circuit breaker. Endpoints are independent, so one slow or dead endpoint never holds up another.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  failureThreshold: number;
  openMs: number;
}

/** What an attempt's outcome tells the breaker. */
export type Outcome =
  | 'success' // the endpoint answered (2xx, or a final 3xx/4xx: it is up, it just said no)
  | 'failure' // network error, timeout, 5xx, 408, 429
  | 'neutral'; // nothing learnt about the endpoint (refused by the SSRF guard, client closing)

/** The gate before sending: go, go as the half-open probe, or refuse for `retryAfterMs`. */
export type Gate = { pass: true; probe: boolean } | { pass: false; retryAfterMs: number };

/**
 * A circuit breaker (closed -> open after `failureThreshold` consecutive failures -> half-open after `openMs`,
 * letting one probe through -> closed on its success, open again on its failure).
 */
export class Breaker {
  #state: 'closed' | 'open' | 'half-open' = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  readonly #settings: BreakerSettings;

  constructor(settings: BreakerSettings) {
    this.#settings = settings;
  }

  /** The state as a caller sees it now: an open breaker past `openMs` is half-open (its next attempt probes). */
  view(now: number): { state: BreakerState; failures: number } {
    const state = this.#state === 'open' && now - this.#openedAt >= this.#settings.openMs ? 'half-open' : this.#state;
    return { state, failures: this.#failures };
  }

  /** Whether the endpoint is at rest: closed and without a probe, so forgetting it loses nothing. */
  get idle(): boolean {
    return this.#state === 'closed' && this.#failures === 0;
  }

  /** Checks without taking the probe (to refuse before queueing for a slot). */
  peek(now: number): Gate {
    return this.#gate(now, false);
  }

  /** Checks and, when the breaker is due a probe, takes it: the caller must report with `probe: true`. */
  enter(now: number): Gate {
    return this.#gate(now, true);
  }

  #gate(now: number, take: boolean): Gate {
    if (this.#state === 'closed') return { pass: true, probe: false };
    const remaining = this.#openedAt + this.#settings.openMs - now;
    if (this.#state === 'open' && remaining > 0) return { pass: false, retryAfterMs: remaining };
    // Half-open: exactly one probe at a time; the others come back after another `openMs`.
    if (this.#probing) return { pass: false, retryAfterMs: this.#settings.openMs };
    if (take) {
      this.#state = 'half-open';
      this.#probing = true;
    }
    return { pass: true, probe: true };
  }

  report(outcome: Outcome, probe: boolean, now: number): void {
    if (probe) this.#probing = false;
    if (outcome === 'success') {
      this.#state = 'closed';
      this.#failures = 0;
    } else if (outcome === 'failure') {
      this.#failures += 1;
      if (probe || (this.#state === 'closed' && this.#failures >= this.#settings.failureThreshold)) {
        this.#state = 'open';
        this.#openedAt = now;
      }
    }
  }
}

/** Waits for one of `limit` slots; the queue of waiters is bounded. */
export class Slots {
  #active = 0;
  readonly #waiting: ((granted: boolean) => void)[] = [];
  readonly #limit: number;
  readonly #maxWaiting: number;

  constructor(limit: number, maxWaiting: number) {
    this.#limit = limit;
    this.#maxWaiting = maxWaiting;
  }

  get busy(): boolean {
    return this.#active > 0 || this.#waiting.length > 0;
  }

  /** Resolves `true` with a slot, `false` when the queue is full or the client closes. */
  acquire(): Promise<boolean> {
    if (this.#active < this.#limit) {
      this.#active += 1;
      return Promise.resolve(true);
    }
    if (this.#waiting.length >= this.#maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#active -= 1;
    else next(true); // the slot passes straight to the next waiter, in arrival order
  }

  /** Turns every waiter away (the client is closing). */
  reject(): void {
    for (const waiter of this.#waiting.splice(0)) waiter(false);
  }
}

export interface Endpoint {
  readonly origin: string;
  readonly slots: Slots;
  readonly breaker: Breaker;
}

/**
 * Endpoints by origin, least recently used first. Over `maxEndpoints`, the least recently used endpoint that has
 * no attempt in flight or waiting and a closed, clean breaker is forgotten; when none is, the table grows past the
 * bound for as long as those attempts last (each holds memory of its own anyway).
 */
export class EndpointTable {
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #create: (origin: string) => Endpoint;
  readonly #maxEndpoints: number;

  constructor(maxEndpoints: number, create: (origin: string) => Endpoint) {
    this.#maxEndpoints = maxEndpoints;
    this.#create = create;
  }

  get size(): number {
    return this.#endpoints.size;
  }

  find(origin: string): Endpoint | undefined {
    return this.#endpoints.get(origin);
  }

  /** The endpoint of `origin`, created if needed, marked most recently used. */
  get(origin: string): Endpoint {
    let endpoint = this.#endpoints.get(origin);
    if (endpoint === undefined) {
      endpoint = this.#create(origin);
      this.#evict();
    } else {
      this.#endpoints.delete(origin);
    }
    this.#endpoints.set(origin, endpoint);
    return endpoint;
  }

  all(): IterableIterator<Endpoint> {
    return this.#endpoints.values();
  }

  #evict(): void {
    if (this.#endpoints.size < this.#maxEndpoints) return;
    // First pass: endpoints at rest. Second pass: idle ones whose breaker still remembers failures, because an
    // unbounded map keyed by customer URLs is worse than forgetting that an idle endpoint once failed.
    for (const atRest of [true, false]) {
      for (const [origin, endpoint] of this.#endpoints) {
        if (!endpoint.slots.busy && (!atRest || endpoint.breaker.idle)) {
          this.#endpoints.delete(origin);
          return;
        }
      }
    }
  }
}
