export { provisionDevicePsk } from './devices.js';
export {
  addFirmware,
  cancelDownlink,
  DOWNLINK_LIMITS,
  type DownlinkContext,
  type DownlinkRequest,
  scheduleDownlink,
} from './downlinks.js';
export { CoreError, type CoreErrorCode, StorageError, type StorageErrorCode } from './errors.js';
export { ConversationEngine, type ConversationEngineOptions, type ConversationStats } from './flap/engine.js';
export {
  type Fragment,
  fragmentMessage,
  nextSequence,
  Reassembly,
  type ReassemblyOptions,
  type ReassemblyResult,
} from './flap/fragment.js';
export {
  type DownlinkMessage,
  type FirmwareRequest,
  type FlapMessage,
  MAX_MESSAGE_BYTES,
  MESSAGE_TYPES,
  packMessage,
  type SessionInfo,
  type SessionInfoField,
  type ShellResult,
  type UplinkMessage,
  unpackMessage,
} from './flap/message.js';
export {
  CLAIM_TOKEN_BYTES,
  decodeBase64Datagram,
  encodeBase64Datagram,
  FLAP_FLAGS,
  type FlapFlagName,
  type FlapPacket,
  formatFlags,
  MAX_PACKET_BYTES,
  MAX_PACKET_DATA,
  MAX_SEQUENCE,
  PACKET_HEADER_BYTES,
  type ParsedPacket,
  packetHash,
  packPacket,
  parseFlags,
  parsePacket,
  unpackPacket,
  verifyPacket,
} from './flap/packet.js';
export { uuidv7 } from './ids.js';
export {
  createMemoryQueue,
  type EventQueue,
  type MemoryQueueOptions,
  type PipelineEvent,
  type Subscription,
} from './pipeline/queue.js';
export { createMemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export type {
  CallbackConfig,
  CallbackContentType,
  CallbackMethod,
  Delivery,
  DeliveryAttempt,
  DeliveryUpdate,
  Device,
  DevicePatch,
  Downlink,
  DownlinkKind,
  DownlinkState,
  DownlinkUpdate,
  FirmwareImage,
  LogEntry,
  MaybePromise,
  MessageDirection,
  MessageQuery,
  NewDevice,
  Page,
  Session,
  Storage,
  StorageLimits,
  StoredCodec,
  StoredMessage,
  Tenant,
} from './storage/types.js';
export {
  createFlapUdpServer,
  type FlapUdpCounters,
  type FlapUdpServer,
  type FlapUdpServerOptions,
  type Framing,
} from './transport/udp.js';
