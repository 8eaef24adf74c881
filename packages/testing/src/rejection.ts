import { expect } from 'vitest';

/**
 * The error `promise` rejects with, asserted to be an instance of `type`, for tests that then
 * check its code and message. A promise that resolves fails the assertion.
 *
 * @example
 * const error = await rejection(manager.ensureSetup(spec), KoyoSlotError);
 * expect(error.code).toBe('WAL_LEVEL');
 */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => new Error(`expected a rejection with ${type.name}, but the promise resolved`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
