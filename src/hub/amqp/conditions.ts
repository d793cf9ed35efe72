/**
 * @module hub/amqp/conditions
 * The hub AMQP endpoint's one translation point from a `HubError` to an AMQP error (a rejected delivery, a detached
 * link or a closed connection), with the conditions the official SDKs map (azure-iot-amqp-base and azure-iothub
 * common-amqp `translateError`; azure-iothub amqp_service_errors.js):
 *
 * | HubError | condition | SDK error |
 * |---|---|---|
 * | IotHubUnauthorized(Access) | `amqp:unauthorized-access` | UnauthorizedError |
 * | DeviceNotFound, NotFound, DeviceNotOnline | `amqp:not-found` | DeviceNotFoundError |
 * | DeviceMaximumQueueDepthExceeded | `amqp:resource-limit-exceeded` | DeviceMaximumQueueDepthExceededError (service) |
 * | MessageTooLarge | `amqp:link:message-size-exceeded` | MessageTooLargeError |
 * | PreconditionFailed | `com.microsoft:precondition-failed` | PreconditionFailedError |
 * | DeviceMessageLockLost | `com.microsoft:message-lock-lost` | DeviceMessageLockLostError |
 * | ThrottlingException | `com.microsoft:device-container-throttled` | ThrottlingError |
 * | DeviceAlreadyExists | `com.microsoft:device-already-exists` | DeviceAlreadyExistsError |
 * | other 4xx | `com.microsoft:argument-error` | ArgumentError |
 * | 5xx, anything else | `amqp:internal-error` | InternalServerError |
 */
import { HubError } from '../errors.js';

export interface AmqpErrorInfo {
  condition: string;
  description: string;
}

export function amqpErrorOf(err: unknown): AmqpErrorInfo {
  if (!HubError.is(err)) return { condition: 'amqp:internal-error', description: 'Internal error' };
  const description = `${err.code}: ${err.message}`;
  switch (err.code) {
    case 'IotHubUnauthorized':
    case 'IotHubUnauthorizedAccess': return { condition: 'amqp:unauthorized-access', description };
    case 'DeviceNotFound':
    case 'NotFound':
    case 'DeviceNotOnline': return { condition: 'amqp:not-found', description };
    case 'DeviceMaximumQueueDepthExceeded': return { condition: 'amqp:resource-limit-exceeded', description };
    case 'MessageTooLarge': return { condition: 'amqp:link:message-size-exceeded', description };
    case 'PreconditionFailed': return { condition: 'com.microsoft:precondition-failed', description };
    case 'DeviceMessageLockLost': return { condition: 'com.microsoft:message-lock-lost', description };
    case 'ThrottlingException': return { condition: 'com.microsoft:device-container-throttled', description };
    case 'DeviceAlreadyExists': return { condition: 'com.microsoft:device-already-exists', description };
    default: return err.status >= 500 ? { condition: 'amqp:internal-error', description } : { condition: 'com.microsoft:argument-error', description };
  }
}

export const unauthorized = (description: string): AmqpErrorInfo => ({ condition: 'amqp:unauthorized-access', description });
