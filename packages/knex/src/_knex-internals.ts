import { createRequire } from 'node:module';

/**
 * @internal Knex's own classes, loaded from the `knex` the app installed (a peer dependency), so
 * the routed client is a real subclass of Knex's PostgreSQL client. Knex is CommonJS and ships no
 * types for these paths; the shapes below are the parts koyo uses.
 */
const require = createRequire(import.meta.url);

/** @internal a connection as Knex's pg client hands it around (a `pg.Client` from its pool). */
export type KnexConnection = object & {
  __knexUid?: string;
  __knexTxId?: string;
  __knex__disposed?: unknown;
  processID?: number;
};

/** @internal one statement as Knex passes it to `client._query`. */
export interface KnexQueryObject {
  sql: string;
  bindings?: unknown[];
  options?: Record<string, unknown>;
  method?: string;
  response?: unknown;
  [key: string]: unknown;
}

/** @internal the methods of Knex's pg client that koyo calls or overrides. */
export interface PgClientLike {
  config: Record<string, unknown>;
  transacting?: boolean;
  acquireConnection(): Promise<KnexConnection>;
  releaseConnection(connection: KnexConnection): Promise<void>;
  _query(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject>;
  _stream(
    connection: KnexConnection,
    obj: KnexQueryObject,
    stream: unknown,
    options: unknown,
  ): Promise<unknown>;
  cancelQuery(connection: KnexConnection): Promise<unknown>;
  runner(builder: unknown): unknown;
  transaction(container: unknown, config: unknown, outerTx: unknown): unknown;
  destroy(callback?: unknown): Promise<void>;
  postProcessResponse(response: unknown, queryContext: unknown): unknown;
  emit(event: string, ...args: unknown[]): boolean;
}

/** @internal */
export type PgClientClass = new (config: Record<string, unknown>) => PgClientLike;

/** @internal Knex's Runner: runs one builder's statements on one connection. */
export interface RunnerLike {
  client: PgClientLike;
  builder: { _connection?: KnexConnection } & Record<string, unknown>;
  connection: KnexConnection | undefined;
  ensureConnection(
    cb: (runner: RunnerLike, params: unknown) => unknown,
    params?: unknown,
  ): Promise<unknown>;
}

/** @internal */
export type RunnerClass = new (client: PgClientLike, builder: unknown) => RunnerLike;

/** @internal Knex's PostgreSQL client class. */
export const ClientPG = require('knex/lib/dialects/postgres/index.js') as PgClientClass;
/** @internal Knex's Runner class. */
export const Runner = require('knex/lib/execution/runner.js') as RunnerClass;
/** @internal Knex's PostgreSQL transaction class. */
export const TransactionPG =
  require('knex/lib/dialects/postgres/execution/pg-transaction.js') as new (
    client: PgClientLike,
    container: unknown,
    config: unknown,
    outerTx: unknown,
  ) => unknown;
