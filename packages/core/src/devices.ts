// Device provisioning helpers (what the HTTP API's "PSK provisioning for flap-dtls" calls).
import { randomBytes } from 'node:crypto';
import { CoreError } from './errors.js';
import type { Storage } from './storage/types.js';

/**
 * Gives a device a new random pre-shared key for flap-dtls (identity `hsn:<serial>`) and returns it, to be written
 * into the device; the previous key stops working at once (new handshakes use the new one).
 * @throws CoreError `DOWNLINK_INVALID` for an unknown device or a key length outside 16..64 bytes.
 */
export async function provisionDevicePsk(
  storage: Storage,
  deviceId: string,
  options: { length?: number } = {},
): Promise<Uint8Array> {
  const length = options.length ?? 16;
  // 16 bytes is what CHESTER firmware and RFC 7925 4.2 (a 128-bit PSK) expect; more is allowed, less is not.
  if (!Number.isInteger(length) || length < 16 || length > 64)
    throw new CoreError('DOWNLINK_INVALID', `a PSK of ${length} bytes: expected 16 to 64`);
  const psk = new Uint8Array(randomBytes(length));
  const device = await storage.updateDevice(deviceId, { psk });
  if (!device) throw new CoreError('DOWNLINK_INVALID', `device ${deviceId} is not registered`);
  return psk;
}
