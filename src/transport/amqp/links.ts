/**
 * @module transport/amqp/links
 * What every AMQP endpoint of ours (the DPS device endpoint, the built-in hub's) does with a link the client attached:
 * read the address of the client's end, and put in our attach answer what the SDKs read from it
 * (docs/sdk-requirements.md R8): `max-message-size` — the C SDK's uAMQP logs "Could not retrieve
 * peer_max_message_size from attach frame" without it, and its hub telemetry refuses to send unless it exceeds 1024.
 * rhea itself echoes the link name and puts `initial-delivery-count` 0 on the attach of every sender. Also what both
 * read from the client: whether the host of an `amqps://{host}/…` address is ours, and a message body's bytes.
 */
import type { Receiver, Sender } from 'rhea';
import { sameHost } from '../../common/host-names.js';

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

/**
 * Whether the host of an absolute link address (`amqps://{host}/…`, the C SDK's form) is this endpoint: one of its
 * configured host names, or the name the client asked for in TLS (SNI). A port after either is ignored. No names
 * configured (an embedded handler) accepts any host.
 */
export function hostIsOurs(host: string, ours: readonly string[] | undefined, servername?: string | false | null): boolean {
  if (!ours?.length) return true;
  const bare = (h: string) => h.replace(/:\d{1,5}$/, '');
  return ours.some((h) => sameHost(bare(h), bare(host))) || (typeof servername === 'string' && sameHost(servername, bare(host)));
}

/**
 * The bytes of a message body as the SDKs send it: one data section (rhea gives `{typecode: 0x75, content}`, or several
 * contents), an amqp-value string or binary, or nothing (empty). Undefined for any other value: each endpoint says
 * what that means (the DPS endpoint refuses it; the hub reads it as JSON).
 */
export function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const content = (body as { content?: unknown }).content;
  if (Buffer.isBuffer(content)) return content;
  if (Array.isArray(content) && content.every((c) => Buffer.isBuffer(c))) return Buffer.concat(content as Buffer[]);
  return undefined;
}
