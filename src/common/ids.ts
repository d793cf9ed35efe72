/** @module common/ids — random identifiers and keys from node:crypto. */
import { randomBytes, randomUUID } from 'node:crypto';

export const cryptoIds = {
  uuid: (): string => randomUUID(),
  randomKey: (bytes: number): string => randomBytes(bytes).toString('base64'),
};

/** An Azure-style ID scope: `0ne` followed by 8 upper-case hex digits. */
export const newIdScope = (): string => `0ne${randomBytes(4).toString('hex').toUpperCase()}`;
