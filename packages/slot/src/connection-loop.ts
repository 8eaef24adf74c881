import { backoffDelay, type ResolvedReconnect } from './backoff.js';
import {
  classifyError,
  KoyoSlotError,
  publicationMissingError,
  type ServerNotice,
} from './errors.js';
import type { Logger } from './logger.js';
import type {
  ConnectionHandlers,
  PgConnection,
  ReplicationConnection,
  ServerFacts,
} from './replication-connection.js';

/** The callbacks of one connection, as {@link ConnectionLoop} hands them on. */
export interface LoopHandlers extends Omit<ConnectionHandlers, 'onStart'> {
  /**
   * START_REPLICATION was accepted. `reconnect`: an earlier connection of this loop streamed;
   * `attempt`: failures since the last connection that streamed (0 on the first try).
   */
  onStart(facts: ServerFacts, connection: PgConnection, reconnect: boolean, attempt: number): void;
}

/** Options of {@link ConnectionLoop}. */
export interface ConnectionLoopOptions {
  reconnect: ResolvedReconnect;
  logger: Logger;
  /** The slot, for log lines. */
  slot: string;
  /** Makes the next connection (it connects when run). */
  open(): ReplicationConnection;
  handlers: LoopHandlers;
  /** A connection ended, cleanly or not (before it is closed). */
  onEnd(): void;
  /** Whether an error is worth another connection, and the typed error to report. */
  classify(error: unknown, streamedBefore: boolean): { retry: boolean; error: KoyoSlotError };
  /** Before the backoff that precedes a new connection. */
  beforeRetry(): void;
}

/**
 * One replication connection after another: runs a connection until it ends, then, unless
 * stopped or the error is final, waits the backoff and opens the next one. Gives up with
 * `RECONNECT_FAILED` after `maxAttempts` failures in a row.
 */
export class ConnectionLoop {
  readonly #options: ConnectionLoopOptions;
  #stopping = false;
  #connection: ReplicationConnection | undefined;
  #connectionRun: Promise<void> | undefined;
  #sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(options: ConnectionLoopOptions) {
    this.#options = options;
  }

  /** Whether {@link ConnectionLoop.stop} was called: no new connection is opened. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The current (or last) connection. */
  get connection(): ReplicationConnection | undefined {
    return this.#connection;
  }

  /** The current (or last) connection's run. */
  get connectionRun(): Promise<void> | undefined {
    return this.#connectionRun;
  }

  /** Opens no more connections and cuts a backoff short (the current connection is the caller's to end). */
  stop(): void {
    this.#stopping = true;
    const sleeper = this.#sleeper;
    this.#sleeper = undefined;
    if (sleeper) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
  }

  /** Runs until stopped (resolves undefined) or until an error is final (resolves that error). */
  async run(): Promise<KoyoSlotError | undefined> {
    const options = this.#options;
    let failures = 0;
    let streamedBefore = false;
    while (!this.#stopping) {
      const connection = options.open();
      this.#connection = connection;
      let outcome: unknown;
      let started = false;
      try {
        this.#connectionRun = connection.run({
          onStart: (facts, pgConnection) => {
            started = true;
            options.handlers.onStart(facts, pgConnection, streamedBefore, failures);
          },
          onCopyData: (body) => options.handlers.onCopyData(body),
          onNotice: (notice) => options.handlers.onNotice(notice),
        });
        await this.#connectionRun;
      } catch (error) {
        outcome = error;
      }
      options.onEnd();
      await connection.close(1_000);
      if (this.#stopping) break;
      if (started) {
        streamedBefore = true;
        failures = 0;
      }
      const { retry, error } =
        outcome === undefined
          ? {
              retry: true,
              error: new KoyoSlotError(
                'CONNECTION_FAILED',
                'The server ended the replication stream.',
              ),
            }
          : options.classify(outcome, streamedBefore);
      if (!retry) return error;
      failures++;
      if (failures > options.reconnect.maxAttempts) {
        return new KoyoSlotError(
          'RECONNECT_FAILED',
          `Gave up reconnecting after ${failures - 1} attempts: ${error.message}`,
          { cause: error },
        );
      }
      options.beforeRetry();
      const delay = backoffDelay(failures, options.reconnect);
      options.logger.warn(
        { err: error, code: error.code, attempt: failures, delayMs: delay, slot: options.slot },
        `replication connection failed (${error.code}); retrying in ${delay} ms`,
      );
      await this.#sleep(delay);
    }
    return undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeper = undefined;
        resolve();
      }, ms);
      this.#sleeper = { timer, resolve };
    });
  }
}

/**
 * Sorts a connection's error for the loop (see `classifyError`); a publication that is missing
 * after the stream has run is one that was dropped under it, and that is final.
 */
export function classifyConnectionError(
  error: unknown,
  streamedBefore: boolean,
  context: { slot: string; publications: readonly string[]; confirmedLsn: string },
): { retry: boolean; error: KoyoSlotError } {
  const { slot, publications, confirmedLsn } = context;
  const classified = classifyError(error, { slot, publications });
  if (!streamedBefore || classified.error.code !== 'PUBLICATION_NOT_FOUND') return classified;
  const cause = classified.error.cause ?? classified.error;
  const notice: ServerNotice = {
    message: (cause as Error).message,
    code: classified.error.sqlState,
    detail: classified.error.detail,
    hint: classified.error.hint,
  };
  return {
    retry: false,
    error: publicationMissingError(notice, {
      slot,
      publications,
      confirmedLsn,
      cause,
    }),
  };
}
