/**
 * @module hub/ids
 * Generated values the hub hands out: symmetric keys, etags, generation ids and tracking ids.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** A new device key: 32 random bytes, base64 (what IoT Hub generates for empty keys). */
export const newSymmetricKey = (): string => randomBytes(32).toString('base64');

/** An opaque device etag (Azure uses base64 of a counter; any opaque string is fine for clients). */
export const newDeviceEtag = (): string => Buffer.from(String(randomInt(10_000_000, 99_999_999))).toString('base64');

/** Twin etag derived from the twin version, shaped like Azure's (`AAAAAAAAAAE=` for version 1). */
export function twinEtag(version: number): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(version));
  return b.toString('base64');
}

/** A .NET-ticks-like generation id (18 digits), unique per creation of a device id. */
export function newGenerationId(now: Date): string {
  const ticks = BigInt(now.getTime()) * 10_000n + 621_355_968_000_000_000n + BigInt(randomInt(0, 10_000));
  return ticks.toString();
}

/** A tracking id for error bodies and logs. */
export const newTrackingId = (): string => randomUUID().replace(/-/g, '');
