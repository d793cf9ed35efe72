/**
 * @module hub/errors
 * The built-in hub's error type and catalog. Codes are IoT Hub's string error codes (the part after `ErrorCode:` in
 * the REST error body, shared/protocol/iot-hub.md §1.6); each maps to one HTTP status.
 * @example throw new HubError('DeviceNotFound', `Device ${id} not registered`)
 */

export const HUB_ERROR_STATUS = {
  ArgumentInvalid: 400,
  ArgumentNull: 400,
  InvalidOperation: 400,
  IotHubUnauthorizedAccess: 401,
  IotHubUnauthorized: 401,
  TooManyDevices: 403,
  DeviceMaximumQueueDepthExceeded: 403,
  DeviceNotFound: 404,
  NotFound: 404,
  DeviceNotOnline: 404,
  MethodNotAllowed: 405,
  DeviceAlreadyExists: 409,
  PreconditionFailed: 412,
  DeviceMessageLockLost: 412,
  MessageTooLarge: 413,
  ThrottlingException: 429,
  ServerError: 500,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
} as const;

export type HubErrorCode = keyof typeof HUB_ERROR_STATUS;

/**
 * IoT Hub's numeric error codes (`errorCode` in newer error bodies, status × 1000 + n), for the codes whose number is
 * documented (learn.microsoft.com "Troubleshoot ... error 403004 DeviceMaximumQueueDepthExceeded", "412002
 * DeviceMessageLockLost"). Error bodies carry `errorCode` only for these.
 */
export const HUB_NUMERIC_ERROR_CODE: Partial<Record<HubErrorCode, number>> = {
  DeviceMaximumQueueDepthExceeded: 403004,
  DeviceMessageLockLost: 412002,
};

export class HubError extends Error {
  override readonly name = 'HubError';
  readonly status: number;

  /** `message` must not contain `;` (the SDK splits the wire message on it) nor any secret. */
  constructor(readonly code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.replace(/;/g, ','), options);
    this.status = HUB_ERROR_STATUS[code];
  }

  static is(err: unknown, code?: HubErrorCode): err is HubError {
    return err instanceof HubError && (code === undefined || err.code === code);
  }
}

export const deviceNotFound = (deviceId: string): HubError =>
  new HubError('DeviceNotFound', `Device ${deviceId} not registered`);

export const argumentInvalid = (message: string): HubError => new HubError('ArgumentInvalid', message);
