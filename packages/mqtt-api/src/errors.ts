/** Stable codes of {@link MqttApiError}; match on these, not on messages. */
export type MqttApiErrorCode =
  | 'MQTT_API_INVALID' // a topic, level, endpoint name or payload that does not follow the API's grammar
  | 'MQTT_API_DENIED' // an action the access-control rules do not grant to the identity
  | 'MQTT_API_CRYPTO'; // a response envelope that cannot be sealed or does not open

/** The one error class of `@uplink/mqtt-api`; messages start with `[mqtt-api]` and say what was wrong and where. */
export class MqttApiError extends Error {
  override readonly name = 'MqttApiError';
  readonly code: MqttApiErrorCode;

  constructor(code: MqttApiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`[mqtt-api] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
