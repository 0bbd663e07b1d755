export { HarnessError, type HarnessErrorCode } from './errors.js';
export { FlapDevice, type FlapDeviceOptions, type FlapDeviceStats } from './flap-device.js';
