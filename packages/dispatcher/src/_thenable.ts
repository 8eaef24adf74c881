/**
 * True when `value` is a promise or any other thenable (a handler's result): the hot path awaits
 * only then, so synchronous handlers cost no microtask.
 */
export function isThenable<T = unknown>(value: unknown): value is Promise<T> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
