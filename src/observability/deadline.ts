/** @module observability/deadline — a promise that rejects when `work` has not settled within `ms` (the work itself goes on). */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms); });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
