import { randomBytes } from 'node:crypto';
import {
  buildChange,
  domainLookup,
  primaryKeyLookup,
  RelationCatalog,
  truncateChange,
  type CatalogQuery,
  type Change,
  type TxnFields,
} from '@koyo/dispatcher/assembly';
import {
  formatLsn,
  PgoutputDecoder,
  type PgoutputMessage,
  type RelationMessage,
  type Row,
} from '@koyo/pgoutput';
import type { QualifiedTable } from '@koyo/slot';
import { flagValue, listValue, numberValue, stringValue } from '../args.js';
import type { CommandRun } from '../command.js';
import { commandContext, publicationName, resolveConnection, slotName } from '../context.js';
import { EXIT, KoyoCliError, findSqlState } from '../errors.js';
import { plainClient } from '../pg-client.js';
import type pg from 'pg';
import { toJson } from '../format.js';
import { parseTable, quoteIdent, quoteTableRef } from '../sql.js';
import { resolveTableNames } from '../tables.js';
import { checkPeekSlot, checkPublication } from './checks.js';

/**
 * One line of `koyo tail --json`: the fields of a dispatcher `Change` but its `id` (kind, schema,
 * table, key, new, old, unchanged, commitLsn, position, xid, commitTime). bigints are strings,
 * bytea is `\x` hex text.
 */
export interface TailChange {
  kind: 'insert' | 'update' | 'delete' | 'truncate';
  schema: string;
  table: string;
  key: Row | null;
  new: Row | null;
  old: Row | null;
  /**
   * Columns whose unchanged TOASTed value was not sent: filled from `old` under
   * `REPLICA IDENTITY FULL`, else absent from `new`.
   */
  unchanged: string[];
  commitLsn: string;
  position: number;
  xid: number;
  commitTime: string;
}

interface Txn {
  fields: TxnFields;
  commitLsn: bigint;
  position: number;
  skip: boolean;
}

/** A dispatcher change as tail prints it: every field but `id`, in the same order. */
function tailChange(change: Change): TailChange {
  const { id: _id, ...line } = change;
  return line as TailChange;
}

/** The primary key and domain lookups of the dispatcher, over tail's own session. */
function catalogOf(client: pg.Client): CatalogQuery {
  return async <R extends pg.QueryResultRow>(sql: string, params: unknown[]) =>
    (await client.query<R>(sql, params)).rows;
}

/**
 * Turns decoded pgoutput messages into {@link TailChange}s, transaction by transaction, with the
 * dispatcher's assembly (`@koyo/dispatcher/assembly`): the same keys, rows and positions.
 */
export class TailAssembler {
  #txn: Txn | undefined;
  readonly #relations: RelationCatalog;
  /** Commit LSN of the last transaction passed on (for --peek, which re-reads from the slot's start). */
  lastCommit = 0n;

  /**
   * `filter`: the `--table`s as PostgreSQL resolved them (qualified); empty for every table.
   * `catalog`: where Relation messages are completed (the primary key of FULL / NOTHING tables,
   * domain types); without it, the key is the replica identity pgoutput announces.
   */
  constructor(
    private readonly filter: readonly QualifiedTable[],
    catalog?: CatalogQuery,
  ) {
    this.#relations = new RelationCatalog(
      catalog ? primaryKeyLookup(catalog) : () => Promise.resolve(null),
      catalog ? domainLookup(catalog) : () => Promise.resolve(new Map()),
    );
  }

  #wanted(relation: RelationMessage): boolean {
    return (
      this.filter.length === 0 ||
      this.filter.some((table) => table.schema === relation.schema && table.name === relation.name)
    );
  }

  /** Takes in a Relation message before {@link handle}; a promise while the catalog is read. */
  relation(message: RelationMessage): void | Promise<void> {
    return this.#relations.relation(message);
  }

  /** The changes a message yields (none for begin/commit/relation...). */
  handle(message: PgoutputMessage): TailChange[] {
    switch (message.tag) {
      case 'begin':
        this.#txn = {
          fields: {
            xid: message.xid,
            commitLsn: formatLsn(message.finalLsn),
            commitTime: message.commitTime.toISOString(),
          },
          commitLsn: message.finalLsn,
          position: 0,
          skip: message.finalLsn <= this.lastCommit,
        };
        return [];
      case 'commit':
        if (this.#txn && !this.#txn.skip) this.lastCommit = this.#txn.commitLsn;
        this.#txn = undefined;
        return [];
      case 'insert':
      case 'update':
      case 'delete':
        return this.#change(message.relation, message);
      case 'truncate':
        return message.relations.flatMap((relation) => this.#change(relation, undefined));
      default:
        return [];
    }
  }

  #change(
    relation: RelationMessage,
    message: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }> | undefined,
  ): TailChange[] {
    const txn = this.#txn;
    if (!txn) return [];
    const position = txn.position++;
    if (txn.skip || !this.#wanted(relation)) return [];
    const info = this.#relations.info(relation);
    const change = message
      ? buildChange(info, message, txn.fields, position)
      : truncateChange(info, txn.fields, position);
    return [tailChange(change)];
  }
}

/** The text line `koyo tail` prints for a change. */
export function formatChangeLine(change: TailChange): string {
  const where = `${change.schema}.${change.table}`;
  switch (change.kind) {
    case 'insert':
      return `${change.commitLsn} insert ${where} ${toJson(change.new)}`;
    case 'update': {
      const old = change.old ? ` (old ${toJson(change.old)})` : '';
      const unchanged =
        change.unchanged.length > 0 ? ` (unchanged toast: ${change.unchanged.join(', ')})` : '';
      return `${change.commitLsn} update ${where} ${toJson(change.new)}${old}${unchanged}`;
    }
    case 'delete':
      return `${change.commitLsn} delete ${where} ${toJson(change.old ?? change.key)}`;
    case 'truncate':
      return `${change.commitLsn} truncate ${where}`;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `koyo tail`: prints decoded changes live, through a temporary slot or by peeking at one. */
export const run: CommandRun = async (spec, args, io, signal) => {
  const ctx = await commandContext(spec, args, io);
  const peek = flagValue(args, 'peek');
  const slotFlag = stringValue(args, 'slot');
  if (peek && slotFlag === undefined)
    throw new KoyoCliError(
      'USAGE',
      '--peek needs --slot NAME: the existing slot to read without consuming',
      { command: spec.name },
    );
  if (slotFlag !== undefined && !peek) {
    throw new KoyoCliError(
      'USAGE',
      '--slot needs --peek: tail never consumes a named slot (that would take changes from its consumer)',
      { command: spec.name },
    );
  }
  const peekSlot = peek ? slotName(ctx)! : undefined;
  const refs = listValue(args, 'table').map((table) => parseTable(table, spec.name));
  const limit = numberValue(spec, args, 'limit', { min: 1, integer: true, fallback: Infinity });
  const interval = numberValue(spec, args, 'interval', {
    min: 10,
    max: 60_000,
    integer: true,
    fallback: 250,
  });
  const json = flagValue(args, 'json');
  let publication = publicationName(ctx);
  if (publication === undefined && refs.length === 0) {
    throw new KoyoCliError(
      'MISSING_VALUE',
      'koyo tail needs a publication: pass --publication NAME, set publication in koyo.config.ts, or name tables with --table (tail then publishes them itself while it runs)',
    );
  }
  const conn = resolveConnection(ctx);

  const client = plainClient(conn.connection);
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
  let ownPublication: string | undefined;
  try {
    await client.connect();
    const filter = await resolveTableNames(client, refs);
    if (publication === undefined) {
      ownPublication = `koyo_tail_${suffix}`;
      await client.query(
        `CREATE PUBLICATION ${quoteIdent(ownPublication)} FOR TABLE ${filter.map(quoteTableRef).join(', ')}`,
      );
      publication = ownPublication;
    }
    if (ownPublication === undefined) await checkPublication(client, publication, filter);
    let slot: string;
    if (peekSlot !== undefined) {
      await checkPeekSlot(client, peekSlot);
      slot = peekSlot;
    } else {
      // A temporary slot belongs to this session and disappears with it, even on a crash.
      slot = `koyo_tail_${suffix}`;
      await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
    }
    const where = `${peek ? `peeking at slot ${slot}` : 'temporary slot'}, publication ${publication}${filter.length > 0 ? `, tables ${filter.map(quoteTableRef).join(', ')}` : ''}`;
    io.stderr.write(`koyo tail: ${conn.display} (${where}); Ctrl-C to stop\n`);

    const fn = peek ? 'pg_logical_slot_peek_binary_changes' : 'pg_logical_slot_get_binary_changes';
    const sql = `SELECT data FROM ${fn}($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`;
    const decoder = new PgoutputDecoder({ protocolVersion: 1 });
    const assembler = new TailAssembler(filter, catalogOf(client));
    let printed = 0;
    while (!signal.aborted && printed < limit) {
      let rows: { data: Buffer }[];
      try {
        rows = (await client.query<{ data: Buffer }>(sql, [slot, publication])).rows;
      } catch (error) {
        if (findSqlState(error) === '55006') {
          throw new KoyoCliError(
            'DATABASE',
            `replication slot "${slot}" is in use by a running consumer: PostgreSQL lets one process read a slot at a time. Peek while its consumer is stopped, or run koyo tail without --slot`,
            { cause: error },
          );
        }
        throw error;
      }
      for (const row of rows) {
        const message = decoder.decode(row.data);
        if (message.tag === 'relation') await assembler.relation(message);
        for (const change of assembler.handle(message)) {
          io.stdout.write(`${json ? toJson(change) : formatChangeLine(change)}\n`);
          if (++printed >= limit) break;
        }
        if (printed >= limit) break;
      }
      if (printed < limit) await sleep(interval, signal);
    }
    return EXIT.OK;
  } finally {
    if (ownPublication !== undefined)
      await client
        .query(`DROP PUBLICATION IF EXISTS ${quoteIdent(ownPublication)}`)
        .catch(() => undefined);
    await client.end().catch(() => undefined);
  }
};
