// Which callbacks a stored message goes to: every enabled callback of its device's group (spec/callbacks.md). The
// engine calls this for each message and stores the deliveries with it in one step (the outbox), so the list of a
// group's callbacks is cached briefly: a change takes effect within `cacheMs`.
import type { Delivery, Device, Storage, StoredMessage } from '@uplink/core';
import { uuidv7 } from '@uplink/core';

export interface DeliveryPlannerOptions {
  /** How long a group's callback list is reused. Default 1,000 ms. */
  cacheMs?: number;
  /** Groups cached at once (least recently used dropped first). Default 10,000. */
  maxGroups?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
}

export type DeliveryPlanner = ((message: StoredMessage, device: Device) => Promise<Delivery[]>) & {
  /** Forgets the cached callbacks (of one group, or all): call after changing callbacks for an immediate effect. */
  invalidate(tenant?: { spaceId: string; groupId: string }): void;
};

/** The `deliveries` option of `ConversationEngine`: one delivery per enabled callback of the device's group. */
export function createDeliveryPlanner(storage: Storage, options: DeliveryPlannerOptions = {}): DeliveryPlanner {
  const cacheMs = options.cacheMs ?? 1000;
  const maxGroups = options.maxGroups ?? 10_000;
  const clock = options.clock ?? Date.now;
  const cache = new Map<string, { at: number; ids: string[] }>();
  const key = (tenant: { spaceId: string; groupId: string }) => `${tenant.spaceId}\u0000${tenant.groupId}`;

  const plan = async (message: StoredMessage, device: Device): Promise<Delivery[]> => {
    const now = clock();
    const group = key(device.tenant);
    let entry = cache.get(group);
    if (!entry || now - entry.at > cacheMs) {
      const callbacks = await storage.listCallbacks({ tenant: device.tenant, enabled: true });
      entry = { at: now, ids: callbacks.map((callback) => callback.id) };
      cache.delete(group);
      cache.set(group, entry);
      while (cache.size > maxGroups) cache.delete(cache.keys().next().value as string);
    }
    return entry.ids.map((callbackId) => ({
      id: uuidv7(now),
      callbackId,
      messageId: message.id,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: new Date(now),
      createdAt: new Date(now),
      updatedAt: new Date(now),
    }));
  };
  return Object.assign(plan, {
    invalidate(tenant?: { spaceId: string; groupId: string }) {
      if (tenant) cache.delete(key(tenant));
      else cache.clear();
    },
  });
}
