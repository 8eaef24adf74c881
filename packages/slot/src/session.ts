import type pg from 'pg';
import { toClientConfig, type ConnectionOptions } from './connection.js';
import { classifyError, KoyoSlotError } from './errors.js';
import { connectWritable, hostCandidates } from './hosts.js';

/** Options of {@link SqlSession}. */
export interface SqlSessionOptions {
  /**
   * Opens the connection, at first use and again after it was lost. Its errors reach the caller
   * as they are. Default: the writable host of `connection` (see {@link connectWritable}), with
   * connection errors as typed {@link KoyoSlotError}s; the connection options are then checked
   * when the session is created.
   */
  connect?: (connection: ConnectionOptions) => Promise<pg.Client>;
  /** The error a closed session throws. Default: a {@link KoyoSlotError} `STREAM_CLOSED`. */
  closedError?: () => Error;
}

function defaultClosedError(): Error {
  return new KoyoSlotError('STREAM_CLOSED', 'This slot manager was closed: create a new one.');
}

async function connectTyped(connection: ConnectionOptions): Promise<pg.Client> {
  try {
    // Several hosts: the writable one, asked again at every reconnect (it follows a failover).
    return await connectWritable(connection);
  } catch (error) {
    throw classifyError(error).error;
  }
}

/**
 * One ordinary (non-replication) connection, opened lazily on first use and reopened by the next
 * call after it is lost (a lost connection never crashes the process). Statements run one at a
 * time, in order. The slot manager and `diagnose` run on one; the dispatcher's helper sessions
 * are ones too.
 *
 * @example
 * const session = new SqlSession('postgres://app@db/shop');
 * const rows = await session.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
 * await session.close();
 */
export class SqlSession {
  readonly #connection: ConnectionOptions;
  readonly #open: (connection: ConnectionOptions) => Promise<pg.Client>;
  readonly #closedError: () => Error;
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  #serverVersionNum: number | undefined;
  #closed = false;

  constructor(connection: ConnectionOptions, options: SqlSessionOptions = {}) {
    if (options.connect === undefined) {
      toClientConfig(connection); // validates now, not at the first query
      hostCandidates(connection);
    }
    this.#connection = connection;
    this.#open = options.connect ?? connectTyped;
    this.#closedError = options.closedError ?? defaultClosedError;
  }

  /** `server_version_num` of the server, e.g. 150004 (asked once). */
  async serverVersionNum(): Promise<number> {
    if (this.#serverVersionNum === undefined) {
      const [row] = await this.query<{ v: number }>(
        "SELECT current_setting('server_version_num')::int AS v",
      );
      this.#serverVersionNum = row!.v;
    }
    return this.#serverVersionNum;
  }

  /** Runs one statement and resolves its rows. `pg` errors are thrown as they are. */
  async query<Row extends Record<string, any> = Record<string, any>>(
    sql: string,
    params?: unknown[],
  ): Promise<Row[]> {
    const client = await this.client();
    const result = await client.query<Row>(sql, params);
    return result.rows;
  }

  /**
   * The open connection, opened (or reopened) now if needed: for what {@link SqlSession.query}
   * does not cover (query configs, COPY). Do not end it; {@link SqlSession.close} does.
   */
  async client(): Promise<pg.Client> {
    if (this.#closed) throw this.#closedError();
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const client = await this.#open(this.#connection);
      const forget = (): void => {
        if (this.#client === client) this.#client = undefined;
      };
      // A lost connection is reopened by the next call; it must not crash the process.
      client.on('error', forget);
      client.on('end', forget);
      this.#client = client;
      return client;
    })();
    let client: pg.Client;
    try {
      client = await this.#connecting;
    } finally {
      this.#connecting = undefined;
    }
    // Closed while connecting: close() ends this client, so say so rather than fail on it later.
    if (this.#closed) throw this.#closedError();
    return client;
  }

  /** Closes the connection. Later calls throw the closed error. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
