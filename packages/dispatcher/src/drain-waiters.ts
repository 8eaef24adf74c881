import { randomUUID } from 'node:crypto';
import { DRAIN_PREFIX, type Engine } from './engine.js';
import { asError, KoyoDispatcherError } from './errors.js';

/**
 * @internal the callers of `dispatcher.drain()` still waiting: each wrote a marker into the WAL
 * (a logical message with a fresh token) and is resolved when the engine has handled everything
 * committed before it, or rejected when the dispatcher stops first.
 */
export class DrainWaiters {
  private readonly waiters = new Map<
    string,
    { resolve: () => void; reject: (error: Error) => void }
  >();

  /** Writes a marker with `emit` and resolves once `engine` has handled what came before it. */
  async drain(
    engine: Engine,
    emit: (prefix: string, token: string) => Promise<void>,
  ): Promise<void> {
    const token = randomUUID();
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.set(token, { resolve, reject });
      engine.expectDrain(token, () => {
        this.waiters.delete(token);
        resolve();
      });
    });
    try {
      await emit(DRAIN_PREFIX, token);
    } catch (error) {
      this.waiters.delete(token);
      engine.forgetDrain(token);
      throw new KoyoDispatcherError(
        'STREAM_FAILED',
        `drain() could not emit its marker (pg_logical_emit_message): ${asError(error).message}. The role needs EXECUTE on pg_logical_emit_message.`,
        { cause: error },
      );
    }
    return done;
  }

  /** Rejects every waiting caller with `reason` (the dispatcher stopped). */
  rejectAll(reason: Error): void {
    for (const waiter of this.waiters.values()) waiter.reject(reason);
    this.waiters.clear();
  }
}
