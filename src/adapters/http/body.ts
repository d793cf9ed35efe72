/**
 * @module adapters/http/body
 * A DPS request's JSON body: the body reader shared with the hub (`common/http/body.ts`) with DPS errors. The DPS
 * device SDK sends `{}` on GET polls and the service SDK POSTs with no body and no content type; both are fine. A
 * body that is not JSON, or declared as something other than JSON, is refused.
 */
import type { IncomingMessage } from 'node:http';
import { readJson as readJsonBody } from '../../common/http/body.js';
import { dpsBodyErrors } from './respond.js';

export const readJson = (req: IncomingMessage, limitBytes: number): Promise<unknown> => readJsonBody(req, limitBytes, dpsBodyErrors);
