export { DtlsError, type DtlsErrorCode } from './errors.js';
