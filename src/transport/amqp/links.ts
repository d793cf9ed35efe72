/**
 * @module transport/amqp/links
 * What every AMQP endpoint of ours (the DPS device endpoint, the built-in hub's) does with a link the client attached:
 * read the address of the client's end, and put in our attach answer what the SDKs read from it
 * (docs/sdk-requirements.md R8): `max-message-size` — the C SDK's uAMQP logs "Could not retrieve
 * peer_max_message_size from attach frame" without it, and its hub telemetry refuses to send unless it exceeds 1024.
 * rhea itself echoes the link name and puts `initial-delivery-count` 0 on the attach of every sender.
 */
import type { Receiver, Sender } from 'rhea';

/** The address of the client's end of a link: the source it reads from, or the target it writes to. */
export function remoteAddress(link: Sender | Receiver, end: 'source' | 'target'): string | undefined {
  const attach = (link as unknown as { remote?: { attach?: Record<string, { address?: unknown } | undefined> } }).remote?.attach;
  const address = attach?.[end]?.address;
  return typeof address === 'string' ? address : undefined;
}

/** Sets `max-message-size` on our attach answer (called from rhea's `sender_open` / `receiver_open`, before it is sent). */
export function answerAttach(link: Sender | Receiver, maxMessageBytes: number): void {
  (link as unknown as { local: { attach: { max_message_size?: number } } }).local.attach.max_message_size = maxMessageBytes;
}
