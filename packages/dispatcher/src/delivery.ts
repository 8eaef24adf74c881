import { asError, KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { Registered } from './registry.js';
import type { DeliveryItem, ErrorDecision, HandlerResult } from './types.js';
import { isThenable } from './_thenable.js';

/** How failing handlers are treated (resolved options). */
export interface DeliveryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  onError:
    ((error: Error, item: DeliveryItem) => ErrorDecision | Promise<ErrorDecision>) | undefined;
  deadLetter: ((item: DeliveryItem, error: Error) => void | Promise<void>) | undefined;
}

/** Counters the deliverer updates. */
export interface DeliveryCounters {
  handlerErrors: number;
  retries: number;
  skipped: number;
  deadLettered: number;
  inFlight: number;
  /** The latest handler failure (message and time), or null. */
  lastError: { message: string; at: string } | null;
}

/** Counters at zero. */
export function newDeliveryCounters(): DeliveryCounters {
  return {
    handlerErrors: 0,
    retries: 0,
    skipped: 0,
    deadLettered: 0,
    inFlight: 0,
    lastError: null,
  };
}

/** Thrown (internally) when `stop()` interrupts a retry wait: not a failure. */
export class Cancelled extends Error {
  constructor() {
    super('delivery cancelled by stop()');
  }
}

/** A short description of an item for logs and error messages. */
export function describeItem(item: DeliveryItem): string {
  if (item.kind === 'transaction')
    return `transaction chunk ${item.chunk} of xid ${item.xid} (commitLsn ${item.commitLsn}, ${item.changes.length} changes)`;
  if (item.kind === 'message') {
    return item.commitLsn === null
      ? `non-transactional message ${JSON.stringify(item.prefix)} at ${item.lsn}`
      : `message ${JSON.stringify(item.prefix)} (commitLsn ${item.commitLsn}, position ${item.position})`;
  }
  return `${item.kind} on ${item.schema}.${item.table} (commitLsn ${item.commitLsn}, position ${item.position})`;
}

/**
 * Calls handlers with retry, backoff and the error policy. Synchronous handlers that succeed
 * cost no promise: `deliver` returns `undefined` unless something was asynchronous.
 */
export class Deliverer {
  private readonly timers = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  private cancelled = false;

  constructor(
    private readonly policy: DeliveryPolicy,
    private readonly logger: Logger,
    private readonly counters: DeliveryCounters,
  ) {}

  /** Runs every handler on the item, in order. */
  deliver<T extends DeliveryItem>(
    item: T,
    handlers: readonly Registered<(item: T) => HandlerResult>[],
    from = 0,
  ): void | Promise<void> {
    for (let i = from; i < handlers.length; i++) {
      const handler = handlers[i]!;
      let result: HandlerResult;
      this.counters.inFlight++;
      try {
        result = handler.fn(item);
      } catch (error) {
        this.counters.inFlight--;
        return this.recover(item, handlers, i, error);
      }
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          () => {
            this.counters.inFlight--;
            return this.deliver(item, handlers, i + 1);
          },
          (error: unknown) => {
            this.counters.inFlight--;
            return this.recover(item, handlers, i, error);
          },
        );
      }
      this.counters.inFlight--;
    }
    return undefined;
  }

  /** Stops retry waits: pending deliveries reject with {@link Cancelled}. */
  cancel(): void {
    this.cancelled = true;
    for (const entry of this.timers) {
      clearTimeout(entry.timer);
      entry.reject(new Cancelled());
    }
    this.timers.clear();
  }

  private async recover<T extends DeliveryItem>(
    item: T,
    handlers: readonly Registered<(item: T) => HandlerResult>[],
    index: number,
    first: unknown,
  ): Promise<void> {
    const handler = handlers[index]!;
    let error = asError(first);
    let attempt = 1;
    for (;;) {
      this.counters.handlerErrors++;
      this.counters.lastError = {
        message: `${handler.label}: ${error.message}`,
        at: new Date().toISOString(),
      };
      if (attempt >= this.policy.attempts) break;
      const delay = Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** (attempt - 1));
      this.logger.warn(
        {
          handler: handler.label,
          item: describeItem(item),
          attempt,
          attempts: this.policy.attempts,
          retryInMs: delay,
          error: error.message,
        },
        'handler failed, retrying',
      );
      await this.sleep(delay);
      this.counters.retries++;
      attempt++;
      this.counters.inFlight++;
      try {
        await handler.fn(item);
        this.counters.inFlight--;
        return this.deliver(item, handlers, index + 1);
      } catch (next) {
        this.counters.inFlight--;
        error = asError(next);
      }
    }
    await this.giveUp(item, handler.label, error, attempt);
    return this.deliver(item, handlers, index + 1);
  }

  private async giveUp(
    item: DeliveryItem,
    label: string,
    error: Error,
    attempts: number,
  ): Promise<void> {
    if (this.cancelled) throw new Cancelled();
    const what = describeItem(item);
    let decision: ErrorDecision = this.policy.deadLetter ? 'skip' : 'stop';
    if (this.policy.onError) {
      try {
        decision = await this.policy.onError(error, item);
      } catch (policyError) {
        throw new KoyoDispatcherError(
          'ON_ERROR_FAILED',
          `The onError policy threw while handling the failure of ${label} on ${what}; the dispatcher stops and the item will be delivered again after a restart.`,
          {
            cause: policyError,
            item,
          },
        );
      }
      if (decision !== 'skip' && decision !== 'stop') {
        throw new KoyoDispatcherError(
          'ON_ERROR_FAILED',
          `onError must return 'skip' or 'stop', got ${JSON.stringify(decision)} for ${what}.`,
          { cause: error, item },
        );
      }
    }
    if (decision === 'stop') {
      this.logger.error(
        { handler: label, item: what, attempts, error: error.message },
        'handler failed on every attempt, stopping',
      );
      throw new KoyoDispatcherError(
        'HANDLER_FAILED',
        `${label} failed ${attempts} time(s) on ${what}: ${error.message}. The dispatcher stopped without acknowledging it, so it is delivered again after a restart; pass \`deadLetter\` or \`onError\` to park such items and go on.`,
        { cause: error, item },
      );
    }
    if (this.policy.deadLetter) {
      try {
        await this.policy.deadLetter(item, error);
      } catch (parkError) {
        throw new KoyoDispatcherError(
          'DEAD_LETTER_FAILED',
          `The deadLetter handler failed to park ${what} (after ${label} failed: ${error.message}); the dispatcher stops and the item will be delivered again after a restart.`,
          {
            cause: parkError,
            item,
          },
        );
      }
      this.counters.deadLettered++;
      this.logger.warn(
        { handler: label, item: what, attempts, error: error.message },
        'handler failed on every attempt, item parked with deadLetter',
      );
      return;
    }
    this.counters.skipped++;
    this.logger.warn(
      { handler: label, item: what, attempts, error: error.message },
      'handler failed on every attempt, item skipped by onError',
    );
  }

  private sleep(ms: number): Promise<void> {
    if (this.cancelled) return Promise.reject(new Cancelled());
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        reject,
      };
      this.timers.add(entry);
    });
  }
}
