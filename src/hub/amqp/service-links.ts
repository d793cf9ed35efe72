/**
 * @module hub/amqp/service-links
 * The service side of the hub's AMQP endpoint, as azure-iothub's `Client` uses it (azure-iothub amqp.js), after a
 * put-token with a shared access policy's token (cbs.ts):
 *
 * - `/messages/devicebound` (the service's sender link): each message's `to` is `/devices/{id}/messages/devicebound`;
 *   it is queued for that device (hub/c2d-queue.ts) and accepted, or rejected with the condition the SDK maps
 *   (conditions.ts): an unknown device `amqp:not-found` (DeviceNotFoundError), a full queue
 *   `amqp:resource-limit-exceeded` (DeviceMaximumQueueDepthExceededError, azure-iothub amqp_service_errors.js), too
 *   large `amqp:link:message-size-exceeded`, a bad `iothub-ack` or `to` `com.microsoft:argument-error`.
 * - `/messages/serviceBound/feedback` (the service's receiver link): feedback batches (a JSON array of records,
 *   content type `application/vnd.microsoft.iothub.feedback.json`) are pulled from the queue while the link has
 *   credit; accepted → completed, rejected / released / modified (or the link gone) → abandoned, so another receiver
 *   gets them.
 */
import type { Delivery, Message, Receiver, Sender } from 'rhea';
import type { Logger } from '../../common/logger.js';
import { argumentInvalid } from '../errors.js';
import type { Hub } from '../hub.js';
import { deviceOfCloudToDeviceTarget } from './addresses.js';
import { amqpErrorOf } from './conditions.js';
import type { Settlement } from './device-channel.js';
import { feedbackMessage, outgoingCloudToDeviceOf } from './messages.js';

/** Messages a service sender may have outstanding on `/messages/devicebound`. */
export const SERVICE_LINK_CREDIT = 10;

export class ServiceLinks {
  private readonly feedbackSenders = new Set<Sender>();
  /** Feedback batches out on the wire, by lock token. */
  private readonly outstanding = new Map<string, Sender>();
  private offFeedback: (() => void) | undefined;
  private pulling = false;
  private pullAgain = false;
  private ended = false;

  constructor(
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly track: (delivery: Delivery, settle: (outcome: Settlement) => void) => void,
  ) {}

  addCloudToDeviceLink(receiver: Receiver): void {
    receiver.add_credit(SERVICE_LINK_CREDIT);
  }

  addFeedbackLink(sender: Sender): void {
    this.feedbackSenders.add(sender);
    this.offFeedback ??= this.hub.c2d.onFeedback(() => void this.pullFeedback());
    void this.pullFeedback();
  }

  creditArrived(sender: Sender): void {
    if (this.feedbackSenders.has(sender)) void this.pullFeedback();
  }

  linkClosed(link: Sender | Receiver): void {
    if (!this.feedbackSenders.delete(link as Sender)) return;
    for (const [token, s] of this.outstanding) if (s === link) this.settle(token, 'released');
  }

  /** The connection ended (or the service's token expired): unsettled feedback goes back to the queue. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.offFeedback?.();
    for (const token of [...this.outstanding.keys()]) this.settle(token, 'released');
    this.feedbackSenders.clear();
  }

  /** One message on `/messages/devicebound`; resolves once it is settled (never rejects). */
  async onCloudToDevice(receiver: Receiver, delivery: Delivery, msg: Message): Promise<void> {
    try {
      const deviceId = deviceOfCloudToDeviceTarget(msg.to);
      if (!deviceId) throw argumentInvalid("The message's 'to' must be /devices/{deviceId}/messages/devicebound");
      const { messageId } = await this.hub.c2d.enqueue(deviceId, outgoingCloudToDeviceOf(msg));
      delivery.accept();
      this.log.debug('cloud-to-device message queued', { deviceId, messageId });
    } catch (err) {
      const error = amqpErrorOf(err);
      if (error.condition === 'amqp:internal-error') this.log.error('cloud-to-device send failed', { error: String((err as Error)?.stack ?? err) });
      else this.log.info('cloud-to-device send refused', { condition: error.condition, reason: error.description });
      delivery.reject(error);
    } finally {
      if (receiver.is_open()) receiver.add_credit(1);
    }
  }

  private async pullFeedback(): Promise<void> {
    if (this.pulling) { this.pullAgain = true; return; }
    this.pulling = true;
    try {
      do {
        this.pullAgain = false;
        for (;;) {
          const sender = [...this.feedbackSenders].find((s) => s.is_open() && s.sendable());
          if (!sender || this.ended) break;
          const batch = await this.hub.c2d.receiveFeedback();
          if (!batch) break;
          if (!sender.is_open() || this.ended) {
            await this.hub.c2d.abandonFeedback(batch.lockToken).catch(() => undefined);
            break;
          }
          this.outstanding.set(batch.lockToken, sender);
          this.track(sender.send(feedbackMessage(batch)), (outcome) => this.settle(batch.lockToken, outcome));
        }
      } while (this.pullAgain && !this.ended);
    } catch (err) {
      this.log.warn('feedback delivery failed', { error: (err as Error).message });
    } finally {
      this.pulling = false;
    }
  }

  private settle(lockToken: string, outcome: Settlement): void {
    if (!this.outstanding.delete(lockToken)) return;
    const op = outcome === 'accepted' ? this.hub.c2d.completeFeedback(lockToken) : this.hub.c2d.abandonFeedback(lockToken);
    op.catch((err: unknown) => this.log.debug('feedback settlement not applied', { outcome, error: (err as Error).message }));
  }
}
