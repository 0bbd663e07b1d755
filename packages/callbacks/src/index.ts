export { CallbackError, type CallbackErrorCode } from './errors.js';
export { CALLBACK_LIMITS, type CallbackInput, validateCallback } from './config.js';
export { type CallbackMessage, callbackMessage } from './message.js';
export { createDeliveryPlanner, type DeliveryPlanner, type DeliveryPlannerOptions } from './planner.js';
export {
  type AttemptOutcome,
  type CallbackWorker,
  type CallbackWorkerOptions,
  type CallbackWorkerStats,
  createCallbackWorker,
  type Deliver,
  type Transform,
} from './worker.js';
