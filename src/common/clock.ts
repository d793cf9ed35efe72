/** @module common/clock — time as a port, so tests can choose it. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
export const nowSeconds = (clock: Clock): number => Math.floor(clock.now().getTime() / 1000);
