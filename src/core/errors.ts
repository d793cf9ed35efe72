/**
 * @module core/errors
 * `DpsError` and the catalog of wire codes. Six-digit codes: the first three digits are the HTTP status
 * (shared/protocol/dps-device-and-service-api.md §1 "Error body"). Messages never contain secrets.
 */
export const ErrorCatalog = {
  BadRequest: { status: 400, errorCode: 400000, message: 'The request is invalid.' },
  InvalidJson: { status: 400, errorCode: 400001, message: 'The request body is not valid JSON.' },
  InvalidField: { status: 400, errorCode: 400004, message: 'A field of the request is invalid.' },
  RegistrationIdMismatch: { status: 400, errorCode: 400005, message: 'The registration ID in the body does not match the one in the path.' },
  InvalidRegistrationId: { status: 400, errorCode: 400006, message: 'The registration ID is invalid.' },
  VerificationFailed: { status: 400, errorCode: 400007, message: 'The proof-of-possession certificate was not accepted.' },
  Unauthorized: { status: 401, errorCode: 401002, message: 'Unauthorized' },
  Disabled: { status: 401, errorCode: 401003, message: 'The enrollment is disabled.' },
  // DPS TPM flow (attestation.md §3.3): a 401 whose body carries `authenticationKey`, the activation blob
  TpmChallenge: { status: 401, errorCode: 401002, message: 'Activate the authenticationKey in the TPM, then register again with a SAS token signed by it.' },
  Forbidden: { status: 403, errorCode: 403000, message: 'Forbidden' },
  NotFound: { status: 404, errorCode: 404000, message: 'Not found.' },
  IdScopeNotFound: { status: 404, errorCode: 404001, message: 'The ID scope is not known to this service.' },
  EnrollmentNotFound: { status: 404, errorCode: 404201, message: 'The enrollment was not found.' },
  RegistrationNotFound: { status: 404, errorCode: 404202, message: 'The registration was not found.' },
  GroupNotFound: { status: 404, errorCode: 404203, message: 'The enrollment group was not found.' },
  OperationNotFound: { status: 404, errorCode: 404204, message: 'The operation was not found.' },
  CertificateNotFound: { status: 404, errorCode: 404205, message: 'The CA certificate was not found.' },
  CredentialPolicyNotFound: { status: 404, errorCode: 404207, message: 'The credential policy was not found.' },
  LinkedHubNotFound: { status: 404, errorCode: 404206, message: 'No IoT hub with this host name is linked.' },
  MethodNotAllowed: { status: 405, errorCode: 405000, message: 'The method is not allowed on this resource.' },
  Conflict: { status: 409, errorCode: 409000, message: 'The resource already exists.' },
  PreconditionFailed: { status: 412, errorCode: 412000, message: 'The etag in If-Match does not match the current resource.' },
  PayloadTooLarge: { status: 413, errorCode: 413000, message: 'The request body is too large.' },
  UnsupportedMediaType: { status: 415, errorCode: 415000, message: 'The content type is not supported.' },
  Throttled: { status: 429, errorCode: 429001, message: 'Too many requests.' },
  CertificateIssuanceFailed: { status: 500, errorCode: 500005, message: 'The certificate could not be issued.' },
  Internal: { status: 500, errorCode: 500000, message: 'Internal server error.' },
  HubUnreachable: { status: 500, errorCode: 500001, message: 'The assigned IoT hub could not be reached.' },
  NoHubAvailable: { status: 500, errorCode: 500002, message: 'No linked IoT hub can take this device.' },
  AllocationWebhookFailed: { status: 500, errorCode: 500003, message: 'The custom allocation webhook failed.' },
  AllocationWebhookInvalidResponse: { status: 500, errorCode: 500004, message: 'The custom allocation webhook answered with an invalid AllocationResponse.' },
} as const;

export type ErrorName = keyof typeof ErrorCatalog;

export class DpsError extends Error {
  override readonly name = 'DpsError';
  readonly status: number;
  readonly errorCode: number;
  readonly kind: ErrorName;
  readonly info?: Record<string, unknown>;
  /** Extra response headers (e.g. retry-after for 429). */
  readonly headers?: Record<string, string>;
  /** Extra top-level fields of the error body (the TPM challenge's `authenticationKey`); never secrets of ours. */
  readonly body?: Record<string, unknown>;
  /**
   * Why, for the operator (diagnostics and logs), when the device's message is deliberately terse: never on the
   * wire, never a secret. Falls back to `message`.
   */
  readonly reason?: string;

  constructor(kind: ErrorName, message?: string, opts: { cause?: unknown; info?: Record<string, unknown>; headers?: Record<string, string>; body?: Record<string, unknown>; reason?: string } = {}) {
    const entry = ErrorCatalog[kind];
    super(message ?? entry.message, { cause: opts.cause });
    this.kind = kind;
    this.status = entry.status;
    this.errorCode = entry.errorCode;
    this.info = opts.info;
    this.headers = opts.headers;
    this.body = opts.body;
    this.reason = opts.reason;
  }

  /** The operator-facing reason: `reason` when set, else the message. */
  get operatorReason(): string {
    return this.reason ?? this.message;
  }

  static is(err: unknown): err is DpsError {
    return err instanceof DpsError;
  }
}

/** The DPS error body. */
export interface DpsErrorBody {
  errorCode: number;
  trackingId: string;
  message: string;
  timestampUtc: string;
  info?: Record<string, unknown>;
  /** Extra fields (`DpsError.body`), e.g. `authenticationKey` and `keyName` of a TPM challenge. */
  [extra: string]: unknown;
}

export function toErrorBody(err: DpsError, trackingId: string, now: Date): DpsErrorBody {
  return {
    ...(err.body ?? {}),
    errorCode: err.errorCode, trackingId, message: err.message, timestampUtc: now.toISOString(), ...(err.info ? { info: err.info } : {}),
  };
}
