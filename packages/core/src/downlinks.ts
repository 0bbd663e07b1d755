// Scheduling and cancelling downlinks, and adding firmware images: what the HTTP API (and any embedding server)
// calls. Requests are checked here, before anything is queued, so that a device never polls a downlink that
// cannot be built; the conversation engine sends them when the device polls (spec/flap.md, "Downlink").
import { createHash } from 'node:crypto';
import { type CodecRegistry, codecFromCbor, createCodecRegistry, type JsonValue } from '@uplink/codec';
import { CoreError } from './errors.js';
import { MAX_MESSAGE_BYTES } from './flap/message.js';
import { uuidv7 } from './ids.js';
import type { EventQueue, PipelineEvent } from './pipeline/queue.js';
import type { Device, Downlink, DownlinkState, FirmwareImage, Storage } from './storage/types.js';

/** What can be sent to a device. */
export type DownlinkRequest =
  /** Encoded with the device's encoder codec (DOWNLOAD_DATA). */
  | { kind: 'data'; body: Record<string, JsonValue> }
  /** `app config ...` lines; the device applies, saves and reboots (DOWNLOAD_CONFIG). */
  | { kind: 'config'; lines: string[] }
  /** Shell commands; the device answers with their output (DOWNLOAD_SHELL, UPLOAD_SHELL). */
  | { kind: 'shell'; commands: string[] }
  /** A firmware image of {@link addFirmware}, downloaded chunk by chunk (DOWNLOAD_FIRMWARE). */
  | { kind: 'firmware'; firmwareId: string }
  | { kind: 'reboot' };

export interface DownlinkContext {
  storage: Storage;
  /** Where `downlink.changed` is published. */
  events?: EventQueue<PipelineEvent>;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
  /** Encoder codecs by hash, to check a data downlink before it is queued. Default: a registry of its own. */
  codecs?: CodecRegistry;
  /** Downlinks waiting per device; more are refused with DOWNLINK_LIMIT. Default 100. */
  maxPendingPerDevice?: number;
}

/** Bounds of a request: what the firmware's shell and config buffers take, with room to spare. */
export const DOWNLINK_LIMITS = Object.freeze({
  lines: 64,
  commands: 16,
  lineLength: 256,
  /** A firmware image (the nRF9160 application slot is under 1 MiB). */
  firmwareBytes: 16 * 1024 * 1024,
  nameLength: 128,
});

const defaultCodecs = createCodecRegistry();

function invalid(message: string): never {
  throw new CoreError('DOWNLINK_INVALID', message);
}

/** Text lines as the firmware's shell takes them: one line each, no control characters. */
function checkLines(value: unknown, what: string, max: number): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max)
    invalid(`${what}: expected a list of 1 to ${max} lines`);
  return value.map((line, index) => {
    if (typeof line !== 'string' || line.length === 0 || line.length > DOWNLINK_LIMITS.lineLength)
      invalid(`${what}[${index}]: expected text of 1 to ${DOWNLINK_LIMITS.lineLength} characters`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
    if (/[\u0000-\u001f\u007f]/.test(line))
      invalid(`${what}[${index}]: control characters (CR, LF, NUL...) are refused`);
    return line;
  });
}

async function checkData(context: DownlinkContext, device: Device, body: unknown): Promise<Record<string, JsonValue>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    invalid('data downlink: body must be an object');
  const hash = device.encoderHash;
  // Without an encoder yet, the downlink waits: the device uploads its encoder when its session starts.
  if (hash === undefined) return body as Record<string, JsonValue>;
  const codecs = context.codecs ?? defaultCodecs;
  let codec = codecs.get(hash);
  if (!codec) {
    const stored = await context.storage.getCodec(hash);
    if (stored) codec = codecs.add(codecFromCbor(stored.cbor, { expectedHash: hash }));
  }
  if (codec) {
    let cbor: Uint8Array;
    try {
      cbor = codec.encode(body as never);
    } catch (error) {
      invalid(`data downlink for ${device.name}: ${(error as Error).message}`);
    }
    if (cbor.length + 9 > MAX_MESSAGE_BYTES) invalid(`data downlink: ${cbor.length} bytes encoded is too long`);
  }
  return body as Record<string, JsonValue>;
}

/** The payload stored for a request (what the engine builds the message from). */
async function payloadOf(context: DownlinkContext, device: Device, request: DownlinkRequest): Promise<JsonValue> {
  switch (request.kind) {
    case 'data':
      return { body: await checkData(context, device, request.body) };
    case 'config':
      return { lines: checkLines(request.lines, 'config downlink lines', DOWNLINK_LIMITS.lines) };
    case 'shell':
      return { commands: checkLines(request.commands, 'shell downlink commands', DOWNLINK_LIMITS.commands) };
    case 'firmware': {
      const image =
        typeof request.firmwareId === 'string' ? await context.storage.getFirmware(request.firmwareId) : undefined;
      if (!image || (image.spaceId !== null && image.spaceId !== device.tenant.spaceId))
        invalid(`firmware downlink: image ${String(request.firmwareId)} is unknown`);
      return { firmwareId: image.id, name: image.name };
    }
    case 'reboot':
      return null;
    default:
      invalid(`unknown downlink kind ${JSON.stringify((request as { kind?: unknown }).kind)}`);
  }
}

/**
 * Queues a downlink for a device; it goes out when the device next polls (an uplink's ack tells the device to).
 * @throws CoreError `DOWNLINK_INVALID` (unknown device, bad request), `DOWNLINK_LIMIT` (too many pending).
 */
export async function scheduleDownlink(
  context: DownlinkContext,
  deviceId: string,
  request: DownlinkRequest,
): Promise<Downlink> {
  const device = await context.storage.getDevice(deviceId);
  if (!device) invalid(`device ${deviceId} is not registered`);
  const payload = await payloadOf(context, device, request);
  const max = context.maxPendingPerDevice ?? 100;
  if ((await context.storage.listDownlinks(deviceId, 'pending')).length >= max)
    throw new CoreError('DOWNLINK_LIMIT', `device ${device.name} has ${max} downlinks pending`);
  const now = (context.clock ?? Date.now)();
  const downlink: Downlink = {
    id: uuidv7(now),
    deviceId,
    kind: request.kind,
    payload,
    state: 'pending',
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
  await context.storage.addDownlink(downlink);
  await context.events?.publish({ type: 'downlink.changed', downlink });
  return downlink;
}

/**
 * Cancels a downlink that is pending, or a firmware download under way (the device's next chunk request is then
 * refused). Anything the device already has cannot be taken back.
 * @throws CoreError `DOWNLINK_INVALID` (unknown), `DOWNLINK_STATE` (acknowledged, failed, cancelled, or sent).
 */
export async function cancelDownlink(context: DownlinkContext, id: string): Promise<Downlink> {
  const downlink = await context.storage.getDownlink(id);
  if (!downlink) invalid(`downlink ${id} is unknown`);
  const from: readonly DownlinkState[] = downlink.kind === 'firmware' ? ['pending', 'sent'] : ['pending'];
  const now = (context.clock ?? Date.now)();
  // Compare and set: the engine may be sending it right now.
  const after = await context.storage.setDownlinkState(id, 'cancelled', new Date(now), { from });
  if (after?.state !== 'cancelled' || !from.includes(downlink.state))
    throw new CoreError(
      'DOWNLINK_STATE',
      `downlink ${id} is ${after?.state ?? downlink.state}; only ${from.join(' or ')} ${downlink.kind} downlinks can be cancelled`,
    );
  await context.events?.publish({ type: 'downlink.changed', downlink: after });
  return after;
}

/**
 * Stores a firmware image that devices can download: by a firmware downlink, or by asking for it by name
 * (UPLOAD_FIRMWARE "download"). Without `spaceId` it is available to every space.
 */
export async function addFirmware(
  context: Pick<DownlinkContext, 'storage' | 'clock'>,
  input: { name: string; data: Uint8Array; spaceId?: string | null },
): Promise<FirmwareImage> {
  if (typeof input.name !== 'string' || input.name.length === 0 || input.name.length > DOWNLINK_LIMITS.nameLength)
    invalid(`firmware name: expected text of 1 to ${DOWNLINK_LIMITS.nameLength} characters`);
  if (
    !(input.data instanceof Uint8Array) ||
    input.data.length === 0 ||
    input.data.length > DOWNLINK_LIMITS.firmwareBytes
  )
    invalid(`firmware ${input.name}: expected 1 to ${DOWNLINK_LIMITS.firmwareBytes} bytes`);
  const now = (context.clock ?? Date.now)();
  const image: FirmwareImage = {
    id: uuidv7(now),
    name: input.name,
    size: input.data.length,
    sha256: createHash('sha256').update(input.data).digest('hex'),
    spaceId: input.spaceId ?? null,
    createdAt: new Date(now),
  };
  await context.storage.putFirmware(image, input.data);
  return image;
}
