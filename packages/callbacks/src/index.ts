export { CALLBACK_LIMITS, type CallbackInput, validateCallback } from './config.js';
export {
  type AddressGuard,
  type AddressGuardOptions,
  type AddressLookup,
  createAddressGuard,
} from './delivery/address-guard.js';
export {
  type AttemptResult,
  createDeliveryClient,
  type DeliveryClient,
  type DeliveryClientOptions,
} from './delivery/client.js';
export {
  type BuildWebhookRequestOptions,
  buildWebhookRequest,
  CALLBACK_CONTENT_TYPES,
  CALLBACK_METHODS,
  type CallbackContentType,
  type CallbackMethod,
  checkHeader,
  flattenParameters,
  toWireValue,
  WEBHOOK_REQUEST_LIMITS,
  type WebhookRequest,
  type WebhookTarget,
  type WireValue,
} from './delivery/request.js';
export {
  type ClassifyResponseOptions,
  classifyResponse,
  DEFAULT_RETRY_SCHEDULE_MS,
  parseRetryAfter,
  type ResponseHeaders,
  type ResponseVerdict,
  retryDelay,
} from './delivery/retry.js';
export { decodeWebhookSecret, signWebhook, WEBHOOK_SECRET_PREFIX } from './delivery/signature.js';
export { CallbackError, type CallbackErrorCode } from './errors.js';
export { type CallbackMessage, callbackMessage } from './message.js';
export { createDeliveryPlanner, type DeliveryPlanner, type DeliveryPlannerOptions } from './planner.js';
export {
  clearTransformCache,
  compileExpression,
  defaultTransformOptions,
  type ExpressionDetails,
  type PreviewResult,
  preview,
  TRANSFORM_CACHE_SIZE,
  // worker.ts already exports a `Transform` (the function the worker calls); this is the compiled expression.
  type Transform as PayloadTransform,
  type TransformBindings,
  type TransformError,
  type TransformOptions,
} from './transform/transform.js';
export {
  type AttemptOutcome,
  type CallbackWorker,
  type CallbackWorkerOptions,
  type CallbackWorkerStats,
  createCallbackWorker,
  type Deliver,
  type Transform,
} from './worker.js';
