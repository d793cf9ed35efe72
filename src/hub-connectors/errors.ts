/**
 * @module hub-connectors/errors
 * `HubConnectorError`: a hub call that failed, with the HTTP status (0 when no response came) and the IoT Hub
 * error code read from the `iothub-errorcode` header or the body's `Message` (`ErrorCode:X;text`, or the JSON
 * form `{"errorCode":404001,...}` newer hubs send).
 */

export class HubConnectorError extends Error {
  override readonly name = 'HubConnectorError';

  constructor(
    message: string,
    readonly status: number,
    /** IoT Hub error code (`DeviceNotFound`, `PreconditionFailed`, ...), or `Timeout` / `NetworkError` / `InvalidConfiguration`. */
    readonly code: string | undefined,
    readonly hostName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Extracts `{code, message}` from an IoT Hub error response. */
export function parseHubErrorBody(body: string, headerCode: string | undefined): { code?: string; message?: string } {
  let code = headerCode || undefined;
  let message: string | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const raw = typeof parsed === 'object' && parsed !== null ? (parsed as { Message?: unknown }).Message : undefined;
    if (typeof raw === 'string') {
      if (raw.trim().startsWith('{')) {
        const inner = JSON.parse(raw) as { errorCode?: unknown; message?: unknown };
        if (typeof inner.message === 'string') message = inner.message;
        if (!code && inner.errorCode !== undefined) code = String(inner.errorCode);
      } else {
        const semi = raw.indexOf(';');
        const head = semi < 0 ? raw : raw.slice(0, semi);
        if (head.startsWith('ErrorCode:')) {
          code ??= head.slice('ErrorCode:'.length);
          message = semi < 0 ? undefined : raw.slice(semi + 1);
        } else {
          message = raw;
        }
      }
    }
  } catch {
    // not JSON: keep what the header said
  }
  return { code, message };
}
