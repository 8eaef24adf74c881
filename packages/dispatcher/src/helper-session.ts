import { SqlSession, type ConnectionOptions } from '@koyo/slot';
import type pg from 'pg';
import { connectPlain } from './_connection.js';
import { copyOut, type CopyDataSink } from './_copy-out.js';
import { KoyoDispatcherError } from './errors.js';

/**
 * The dispatcher's helper connection: `@koyo/slot`'s lazily reconnecting {@link SqlSession} on
 * the plain (non-replication) connection, stopped with `STOPPED`, plus the query forms the
 * backfill reads with.
 */
export class HelperSession extends SqlSession {
  constructor(connection: ConnectionOptions) {
    super(connection, {
      connect: connectPlain,
      closedError: () => new KoyoDispatcherError('STOPPED', 'The dispatcher is stopped.'),
    });
  }

  /** Runs a query config whose rows are objects (type parsers, ...). */
  async runObjects(config: pg.QueryConfig): Promise<pg.QueryResult> {
    return (await this.client()).query(config);
  }

  /** Runs a full query config (named statements, row mode, type parsers). */
  async run(config: pg.QueryArrayConfig): Promise<pg.QueryArrayResult> {
    return (await this.client()).query(config);
  }

  /** Runs `COPY (...) TO STDOUT`, handing its CopyData messages to `onRows` (see {@link copyOut}). */
  async copyOut(
    sql: string,
    onRows: CopyDataSink,
    onDataRow?: (fields: (string | null)[]) => void,
  ): Promise<number> {
    return copyOut(await this.client(), sql, onRows, onDataRow);
  }
}
