/**
 * @module transport/http/exchange
 * One request, one reply: run the route (which returns a `Reply`), or hand the failure to the API's one error
 * translation point, and write the result. The DPS HTTP adapter and the hub REST API differ only in `onError`
 * (DPS-shaped vs IoT Hub-shaped error bodies, ARCHITECTURE.md "Errors"), so the writing happens here once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeReply, type Reply } from './reply.js';

export interface ExchangeOptions {
  /** Headers on every reply, success or failure (DPS: `x-ms-request-id`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Turns any thrown value into the API's error reply; logs it once, at the level it deserves. */
  readonly onError: (err: unknown) => Reply;
}

/**
 * Runs `produce` and writes its reply (or the error reply). Returns the status written, for the access log. Never
 * rejects: the listener is called as `void handler(req, res)`, where a rejection would be unhandled and end the
 * process; if even the error path fails (the error translation throws, the socket is gone), the connection is
 * destroyed and 500 is returned.
 */
export async function exchange(req: IncomingMessage, res: ServerResponse, produce: () => Promise<Reply>, opts: ExchangeOptions): Promise<number> {
  try {
    const reply = await produce();
    writeReply(res, reply, opts.headers);
    return reply.status;
  } catch (err) {
    try {
      const reply = opts.onError(err);
      // an unread (refused or oversized) body is drained, not destroyed, so the error reply can still be sent
      if (!req.readableEnded) req.resume();
      if (res.headersSent) {
        res.destroy();
        return reply.status;
      }
      writeReply(res, reply, opts.headers);
      return reply.status;
    } catch {
      res.destroy();
      return 500;
    }
  }
}
