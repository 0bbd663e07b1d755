// What transports write to the communication log when they drop a datagram before the engine sees it.
import { uuidv7 } from '../ids.js';
import type { Storage } from '../storage/types.js';

/** Logs a dropped datagram with its reason; never throws (logging must not take a transport down). */
export async function logDropped(
  storage: Storage,
  deviceId: string | null,
  summary: string,
  reason: string,
): Promise<void> {
  const now = Date.now();
  try {
    await storage.appendLog({
      id: uuidv7(now),
      at: new Date(now),
      deviceId,
      sessionId: null,
      direction: 'in',
      sequence: null,
      flags: null,
      summary,
      error: reason,
    });
  } catch {
    // Logging must never take the transport down.
  }
}
