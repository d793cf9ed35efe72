/**
 * @module hub/c2d-queue
 * The built-in hub's cloud-to-device queue, as IoT Hub has it (learn.microsoft.com "Understand cloud-to-device
 * messaging"): one queue per device (depth 50), a TTL per message (default 1 h, at most 48 h), a lock while a
 * message is out for delivery, a max delivery count (default 10), and delivery-acknowledgement feedback
 * (`ack`: none | positive | negative | full) that the service side reads from `/messages/servicebound/feedback`.
 * Kept in the hub store, so it survives a restart.
 *
 * Delivery is pulled by whichever transport the device is connected with: `onAvailable` tells the device's
 * `DeviceChannel` (hub/connections.ts) that something may be deliverable, and the channel calls `receive` when it can
 * deliver (MQTT: subscribed to `devices/{id}/messages/devicebound/#`; AMQP: a receiver link with credit; HTTPS: the
 * device polls). Settlement per transport: MQTT PUBACK → complete; AMQP accepted → complete, rejected → reject,
 * released/modified → abandon; HTTPS `DELETE .../{lockToken}` → complete, `?reject` → reject, `POST .../abandon`.
 *
 * This file is the contract both the device endpoints and the service endpoints code against.
 */

/** Delivery acknowledgement the sender asked for (the `iothub-ack` property). */
export type FeedbackAck = 'none' | 'positive' | 'negative' | 'full';

/** A cloud-to-device message as the service side hands it in. */
export interface OutgoingCloudToDevice {
  /** Generated (a UUID) when absent. */
  readonly messageId?: string;
  readonly body: Buffer;
  /** Application properties (string values). */
  readonly properties?: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly userId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** Default `none`. */
  readonly ack?: FeedbackAck;
  /** Absolute expiry (ISO 8601); default now + the queue's default TTL, capped at the max TTL. */
  readonly expiryTimeUtc?: string;
}

/** A queued message, as the device endpoints deliver it. */
export interface QueuedCloudToDevice {
  readonly messageId: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly userId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly ack: FeedbackAck;
  /** `/devices/{deviceId}/messages/deviceBound` */
  readonly to: string;
  readonly enqueuedTimeUtc: string;
  readonly expiryTimeUtc: string;
  /** Increasing per hub; the order of delivery within a device's queue. */
  readonly sequenceNumber: number;
}

export interface CloudToDeviceDelivery {
  /** Names this delivery (a UUID); settles it. HTTPS devices get it in the `ETag` header. */
  readonly lockToken: string;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  readonly message: QueuedCloudToDevice;
}

/** One feedback record (IoT Hub's feedback message body is a JSON array of these). */
export interface FeedbackRecord {
  readonly originalMessageId: string;
  /** `Success` | `Expired` | `DeliveryCountExceeded` | `Rejected` | `Purged` */
  readonly statusCode: 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';
  readonly description: string;
  readonly deviceId: string;
  readonly deviceGenerationId: string;
  readonly enqueuedTimeUtc: string;
}

/** A batch of feedback records, locked for the service-side receiver until completed or abandoned. */
export interface FeedbackBatch {
  readonly lockToken: string;
  readonly enqueuedTimeUtc: string;
  readonly records: readonly FeedbackRecord[];
}

export interface CloudToDeviceQueue {
  /**
   * Queues a message for a device (which need not be connected). Errors (HubError): `DeviceNotFound` (404),
   * `DeviceMaximumQueueDepthExceeded` (403, IoT Hub's 403004) when 50 messages are queued, `MessageTooLarge` (413)
   * over 64 KiB, `ArgumentInvalid` for a bad ack or expiry.
   */
  enqueue(deviceId: string, message: OutgoingCloudToDevice): Promise<{ messageId: string }>;
  /**
   * Locks the next deliverable message of the device (not expired, not locked, in sequence order) for `lockMs`
   * (default 60 s) and returns it with a new lock token; undefined when there is none. Expired messages met on the way
   * are dropped (feedback `Expired` when asked for).
   */
  receive(deviceId: string, opts?: { readonly lockMs?: number }): Promise<CloudToDeviceDelivery | undefined>;
  /** Removes the message (feedback `Success`). `DeviceMessageLockLost` (412) when the lock token is unknown or expired. */
  complete(deviceId: string, lockToken: string): Promise<void>;
  /** Makes the message deliverable again, unless it reached the max delivery count (then feedback `DeliveryCountExceeded`). */
  abandon(deviceId: string, lockToken: string): Promise<void>;
  /** Removes the message (feedback `Rejected`). */
  reject(deviceId: string, lockToken: string): Promise<void>;
  /** Deletes every queued message of the device (feedback `Purged`). */
  purge(deviceId: string): Promise<{ totalMessagesPurged: number; deviceId: string }>;
  /** Messages queued for the device (deliverable or locked). */
  depth(deviceId: string): Promise<number>;
  /** Called when a device's queue may have a deliverable message: enqueue, abandon, an expired lock. */
  onAvailable(listener: (deviceId: string) => void): () => void;

  /** Locks the oldest feedback batch for the service side; undefined when none. */
  receiveFeedback(opts?: { readonly lockMs?: number }): Promise<FeedbackBatch | undefined>;
  completeFeedback(lockToken: string): Promise<void>;
  abandonFeedback(lockToken: string): Promise<void>;
  /** Called when feedback becomes available. */
  onFeedback(listener: () => void): () => void;
}
