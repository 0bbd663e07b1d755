export { type Action, authorize, type Identity } from './acl.js';
export { MqttApiError, type MqttApiErrorCode } from './errors.js';
export {
  type ApiDirection,
  type ApiTopic,
  ENDPOINT_SEGMENT,
  formatTopic,
  isValidEndpoint,
  isValidFilter,
  isValidIdentifier,
  isValidTopicName,
  MAX_ENDPOINT_DEPTH,
  MAX_ENDPOINT_LENGTH,
  MAX_IDENTIFIER_BYTES,
  MAX_TOPIC_BYTES,
  matches,
  type ParseTopicResult,
  parseTopic,
  requestTopic,
  responseTopic,
} from './topics.js';
