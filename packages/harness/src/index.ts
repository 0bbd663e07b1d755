export { HarnessError, type HarnessErrorCode } from './errors.js';
export {
  FlapDevice,
  type FlapDeviceOptions,
  type FlapDeviceStats,
  type FlapDeviceTransport,
  udpTransport,
} from './flap-device.js';
export {
  createImpairedProxy,
  type ImpairedLinkStats,
  type ImpairedProxy,
  type ImpairedProxyOptions,
  type ImpairedProxyStats,
  type ImpairmentOptions,
  type LinkImpairment,
} from './impair.js';
