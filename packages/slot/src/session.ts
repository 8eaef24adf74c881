import type pg from 'pg';
import { toClientConfig, type ConnectionOptions } from './connection.js';
import { classifyError, KoyoSlotError } from './errors.js';
import { connectWritable, hostCandidates } from './hosts.js';

/**
 * @internal one ordinary (non-replication) connection, opened on first use and reopened after it
 * is lost. Queries run one at a time, in order.
 */
export class SqlSession {
  readonly #connection: ConnectionOptions;
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  #serverVersionNum: number | undefined;
  #closed = false;

  constructor(connection: ConnectionOptions) {
    toClientConfig(connection); // validates now, not at the first query
    hostCandidates(connection);
    this.#connection = connection;
  }

  /** `server_version_num` of the server, e.g. 150004. */
  async serverVersionNum(): Promise<number> {
    if (this.#serverVersionNum === undefined) {
      const [row] = await this.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
      this.#serverVersionNum = row!.v;
    }
    return this.#serverVersionNum;
  }

  /** Runs one statement; `pg` errors become typed {@link KoyoSlotError}s through `mapError`. */
  async query<Row extends Record<string, any> = Record<string, any>>(sql: string, params?: unknown[]): Promise<Row[]> {
    const client = await this.#connect();
    const result = await client.query<Row>(sql, params);
    return result.rows;
  }

  async #connect(): Promise<pg.Client> {
    if (this.#closed) throw new KoyoSlotError('STREAM_CLOSED', 'This slot manager was closed: create a new one.');
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      let client: pg.Client;
      try {
        // Several hosts: the writable one, asked again at every reconnect (it follows a failover).
        client = await connectWritable(this.#connection);
      } catch (error) {
        throw classifyError(error).error;
      }
      const forget = (): void => {
        if (this.#client === client) this.#client = undefined;
      };
      // A lost connection is reopened by the next call; it must not crash the process.
      client.on('error', forget);
      client.on('end', forget);
      this.#client = client;
      return client;
    })();
    try {
      return await this.#connecting;
    } finally {
      this.#connecting = undefined;
    }
  }

  /** Closes the connection. Later queries throw `STREAM_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
