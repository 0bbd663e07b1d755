export { CallbackError, type CallbackErrorCode } from './errors.js';
