export { HarnessError, type HarnessErrorCode } from './errors.js';
export {
  type ConnectFlapDtlsOptions,
  connectFlapDtls,
  dtlsTransport,
  FlapDevice,
  type FlapDeviceBehaviour,
  type FlapDeviceOptions,
  type FlapDeviceStats,
  type FlapDeviceTransport,
  type FlapDtlsDeviceOptions,
  type FlapHashDeviceOptions,
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
