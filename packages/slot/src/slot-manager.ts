import type { ConnectionOptions } from './connection.js';
import { runDiagnostics, type DiagnoseTarget, type DiagnosticCheck } from './diagnose.js';
import { asPgError, classifyError, invalidatedSlotAdvice, KoyoSlotError } from './errors.js';
import {
  assertPublicationName,
  assertSlotName,
  parseTableName,
  quoteIdent,
  quoteLiteral,
  quoteTable,
  tableLabel,
  type QualifiedTable,
  type TableName,
} from './identifiers.js';
import {
  readPublication,
  type PublicationInfo,
  type PublishOperation,
} from './publication-info.js';
import { dropOrigin, listOrigins, originNameForSlot, type OriginInfo } from './origins.js';
import { SqlSession } from './session.js';
import { checkSetupOn, type SetupCheck, type SetupSpec } from './setup-check.js';
import { readSlots, type SlotInfo } from './slot-info.js';
import { lookupTables, requireFound, type ResolvedTable } from './table-resolve.js';

/** What a publication should cover: a list of tables, or every table of the database. */
export type PublicationSpec =
  { tables: TableName[]; allTables?: never } | { allTables: true; tables?: never };

/** Options of {@link SlotManager.ensurePublication}. */
export interface EnsurePublicationOptions {
  /** Operations to publish. Default: PostgreSQL's default (all four). An existing publication is altered to match. */
  publish?: PublishOperation[];
  /**
   * PostgreSQL 18+: when this call creates the publication, publish stored generated columns
   * (`publish_generated_columns = stored`) so that they are in every change. Default true; an
   * existing publication is left as it is; ignored before PostgreSQL 18.
   */
  publishGeneratedColumns?: boolean;
}

/** What {@link SlotManager.ensureSetup} did. */
export interface SetupResult {
  publication: Ensured<PublicationInfo>;
  /** The slot (with `createSlot: false`, the existing one, checked). */
  slot: Ensured<SlotInfo>;
  /** The `tables` as PostgreSQL resolved them (qualified), or `null` without `tables`. */
  tables: QualifiedTable[] | null;
}

/** Options of {@link SlotManager.ensureSlot}. */
export interface EnsureSlotOptions {
  /** Decode prepared transactions at PREPARE time (two-phase commit). Default false. */
  twoPhase?: boolean;
  /** PostgreSQL 17+: synchronise the slot to standbys so it survives a failover. Default false. */
  failover?: boolean;
  /**
   * A slot that lives only as long as this manager's session: it is dropped by {@link SlotManager.close}
   * or when the session ends, and is held by that session, so a replication stream cannot use it.
   * Useful for short-lived checks; a consumer needs a permanent slot. Default false.
   */
  temporary?: boolean;
}

/** Options of {@link SlotManager.dropSlot}. */
export interface DropSlotOptions {
  /**
   * Terminate the process holding the slot (and the session holding its replication origin),
   * then drop it. Default false (an active slot is an error).
   */
  force?: boolean;
  /**
   * Keep the slot's replication origin (`koyo_<slot>`, see {@link originNameForSlot}). Default
   * false: it is dropped with the slot, as nothing else uses it.
   */
  keepOrigin?: boolean;
}

/** Result of the `ensure*` methods: the object, and whether this call created it. */
export interface Ensured<T> {
  /** `true` when this call created the object, `false` when it existed already. */
  created: boolean;
  /** The object as it is now on the server. */
  value: T;
}

/** Slot and publication management over an ordinary `pg` connection. */
export interface SlotManager {
  /**
   * Makes sure the publication exists and covers the given tables (adding missing tables to an
   * existing one; never removing any) or all tables. Idempotent.
   */
  ensurePublication(
    name: string,
    spec: PublicationSpec,
    options?: EnsurePublicationOptions,
  ): Promise<Ensured<PublicationInfo>>;
  /**
   * Checks every precondition of {@link SlotManager.ensureSetup} and changes nothing: `wal_level`,
   * the REPLICATION attribute, free slots and WAL senders, the right to create or alter the
   * publication, each table (exists on the `search_path`, is a permanent table, is owned by the
   * role), and that an existing slot fits. Returns every failed precondition, each with a code
   * and a fix.
   *
   * @example
   * const { ok, problems } = await manager.checkSetup({ publication: 'koyo', slot: 'koyo', tables: ['users'] });
   * for (const p of problems) console.log(`${p.code}: ${p.message}\n  fix: ${p.fix}`);
   */
  checkSetup(spec: SetupSpec): Promise<SetupCheck>;
  /**
   * Sets up a publication and a slot, or changes nothing: it runs {@link SlotManager.checkSetup}
   * first and throws a {@link KoyoSlotError} (the first problem's code, every problem in
   * `problems`) before creating anything when a precondition fails. If creating the slot still
   * fails, the publication (or the tables) this call created is dropped again.
   *
   * @example
   * await manager.ensureSetup({ publication: 'koyo', slot: 'koyo', tables: ['users', 'billing.invoices'] });
   */
  ensureSetup(spec: SetupSpec): Promise<SetupResult>;
  /**
   * Resolves table names as PostgreSQL does on this connection (see {@link resolveTables}).
   * Throws `TABLE_NOT_FOUND` naming the schemas searched.
   */
  resolveTables(tables: TableName[]): Promise<ResolvedTable[]>;
  /** Adds tables to a publication (those already in it are skipped). */
  addTables(name: string, tables: TableName[]): Promise<PublicationInfo>;
  /** Removes tables from a publication (those not in it are skipped). */
  removeTables(name: string, tables: TableName[]): Promise<PublicationInfo>;
  /** Drops a publication; resolves `false` when it did not exist. */
  dropPublication(name: string): Promise<boolean>;
  /** The publication, or `undefined`. */
  getPublication(name: string): Promise<PublicationInfo | undefined>;
  /**
   * Makes sure a logical slot with the pgoutput plugin exists in this database. Idempotent; an
   * existing slot that does not fit (other plugin or database, invalidated, other two-phase or
   * failover setting) is an error, never silently replaced.
   */
  ensureSlot(name: string, options?: EnsureSlotOptions): Promise<Ensured<SlotInfo>>;
  /**
   * Drops a slot, and its replication origin (`koyo_<slot>`) when there is one; resolves `false`
   * when the slot did not exist. An active slot needs `{ force: true }`.
   */
  dropSlot(name: string, options?: DropSlotOptions): Promise<boolean>;
  /** Every replication origin of the server, with its recorded progress (see {@link listOrigins}). */
  listOrigins(): Promise<OriginInfo[]>;
  /**
   * Drops a replication origin; resolves `false` when it did not exist. Waits up to `waitMs`
   * (default 10 s) for a session that has it set up to let go, then throws `ORIGIN_ACTIVE`;
   * `force: true` terminates that session instead.
   */
  dropOrigin(name: string, options?: { waitMs?: number; force?: boolean }): Promise<boolean>;
  /** Every replication slot of the server (logical and physical), with lag. */
  listSlots(): Promise<SlotInfo[]>;
  /** One slot, or `undefined`. */
  getSlot(name: string): Promise<SlotInfo | undefined>;
  /** Runs every check of {@link diagnose} on this connection. */
  diagnose(target: DiagnoseTarget): Promise<DiagnosticCheck[]>;
  /** Closes the connection (and drops temporary slots made by it). */
  close(): Promise<void>;
}

function assertTables(tables: unknown): TableName[] {
  if (!Array.isArray(tables)) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'tables must be an array of table names, like ["public.orders", "items"].',
    );
  }
  // Parsed here so that a malformed name is refused before anything reaches the server.
  for (const table of tables as TableName[]) parseTableName(table);
  return tables as TableName[];
}

function sameTable(a: QualifiedTable, b: QualifiedTable): boolean {
  return a.schema === b.schema && a.name === b.name;
}

/** @internal typed errors for management statements. */
function mapSqlError(
  error: unknown,
  context: { slot?: string; publication?: string; tables?: QualifiedTable[] },
): KoyoSlotError {
  if (error instanceof KoyoSlotError) return error;
  const pgError = asPgError(error);
  if (pgError?.code === '42P01' || pgError?.code === '3F000') {
    const list = context.tables?.map(tableLabel).join(', ') ?? '';
    return new KoyoSlotError(
      'TABLE_NOT_FOUND',
      `${pgError.message}. Check the table names (${list}); names are case-sensitive, and unqualified ones are looked up on the search_path.`,
      { cause: error },
    );
  }
  if (pgError?.code === '42501') {
    return new KoyoSlotError(
      'PERMISSION_DENIED',
      `${pgError.message}. Creating a publication needs CREATE on the database and ownership of its tables (FOR ALL TABLES needs a superuser); slots need the REPLICATION attribute (ALTER ROLE name WITH REPLICATION;).`,
      { cause: error },
    );
  }
  return classifyError(error, context.slot === undefined ? {} : { slot: context.slot }).error;
}

function assertSetupSpec(spec: SetupSpec): void {
  if (typeof spec !== 'object' || spec === null) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'checkSetup/ensureSetup need { publication, slot, tables? }.',
    );
  }
  if (spec.tables !== undefined && spec.tables !== '*') assertTables(spec.tables);
  for (const key of ['createPublication', 'createSlot', 'publishGeneratedColumns'] as const) {
    if (spec[key] !== undefined && typeof spec[key] !== 'boolean')
      throw new KoyoSlotError('INVALID_OPTION', `${key} must be a boolean.`);
  }
}

function publishClause(publish: PublishOperation[] | undefined): string {
  if (publish === undefined) return '';
  const allowed: PublishOperation[] = ['insert', 'update', 'delete', 'truncate'];
  if (!Array.isArray(publish) || publish.some((op) => !allowed.includes(op))) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `publish must list some of ${allowed.join(', ')}; got ${JSON.stringify(publish)}.`,
    );
  }
  return ` WITH (publish = ${quoteLiteral(publish.join(', '))})`;
}

class SlotManagerImpl implements SlotManager {
  readonly #session: SqlSession;
  readonly #connection: ConnectionOptions;

  constructor(connection: ConnectionOptions) {
    this.#session = new SqlSession(connection);
    this.#connection = connection;
  }

  async ensurePublication(
    name: string,
    spec: PublicationSpec,
    options: EnsurePublicationOptions = {},
  ): Promise<Ensured<PublicationInfo>> {
    assertPublicationName(name);
    if (
      typeof spec !== 'object' ||
      spec === null ||
      (spec.allTables !== true && !Array.isArray(spec.tables))
    ) {
      throw new KoyoSlotError(
        'INVALID_OPTION',
        'ensurePublication needs { tables: [...] } or { allTables: true }.',
      );
    }
    const tableNames = spec.allTables === true ? [] : assertTables(spec.tables);
    const withPublish = publishClause(options.publish);
    if (
      options.publishGeneratedColumns !== undefined &&
      typeof options.publishGeneratedColumns !== 'boolean'
    ) {
      throw new KoyoSlotError('INVALID_OPTION', 'publishGeneratedColumns must be a boolean.');
    }
    let tables: QualifiedTable[] = [];
    const context = { publication: name, tables };
    try {
      tables = await this.#resolve(tableNames);
      context.tables = tables;
      let existing = await readPublication(this.#session, name);
      let created = false;
      if (!existing) {
        const target =
          spec.allTables === true
            ? ' FOR ALL TABLES'
            : tables.length > 0
              ? ` FOR TABLE ${tables.map(quoteTable).join(', ')}`
              : '';
        try {
          await this.#session.query(
            `CREATE PUBLICATION ${quoteIdent(name)}${target}${await this.#withClause(withPublish, options)}`,
          );
          created = true;
        } catch (error) {
          // Created concurrently by someone else: carry on with theirs.
          if (asPgError(error)?.code !== '42710') throw error;
        }
        existing = await readPublication(this.#session, name);
        if (!existing)
          throw new KoyoSlotError(
            'PUBLICATION_NOT_FOUND',
            `Publication "${name}" vanished right after it was created; was it dropped concurrently?`,
          );
      }
      if (!created) {
        if (spec.allTables === true && !existing.allTables) {
          throw new KoyoSlotError(
            'PUBLICATION_MISMATCH',
            `Publication "${name}" exists for a list of tables, not FOR ALL TABLES. Drop it (DROP PUBLICATION ${quoteIdent(name)};) and ensure it again, or pass { tables }.`,
          );
        }
        if (!existing.allTables) {
          const missing = tables.filter(
            (table) => !existing!.tables.some((have) => sameTable(have, table)),
          );
          if (missing.length > 0)
            await this.#session.query(
              `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map(quoteTable).join(', ')}`,
            );
        }
        if (
          options.publish !== undefined &&
          [...options.publish].sort().join() !== [...existing.publish].sort().join()
        ) {
          await this.#session.query(
            `ALTER PUBLICATION ${quoteIdent(name)} SET (publish = ${quoteLiteral(options.publish.join(', '))})`,
          );
        }
        existing = (await readPublication(this.#session, name)) ?? existing;
      }
      return { created, value: existing };
    } catch (error) {
      throw mapSqlError(error, context);
    }
  }

  async checkSetup(spec: SetupSpec): Promise<SetupCheck> {
    assertSetupSpec(spec);
    try {
      return await checkSetupOn(this.#session, spec);
    } catch (error) {
      throw mapSqlError(error, { slot: spec.slot, publication: spec.publication });
    }
  }

  async ensureSetup(spec: SetupSpec): Promise<SetupResult> {
    const check = await this.checkSetup(spec);
    const [first] = check.problems;
    if (first) {
      const list = check.problems
        .map((p) => `- ${p.message}${p.fix ? ` Fix: ${p.fix}` : ''}`)
        .join('\n');
      throw new KoyoSlotError(
        first.code,
        `Cannot set up publication "${spec.publication}" and slot "${spec.slot}"; nothing was changed:\n${list}`,
        { problems: check.problems },
      );
    }
    const publication = await this.#setupPublication(spec, check);
    let slot: Ensured<SlotInfo>;
    try {
      slot =
        spec.createSlot === false
          ? { created: false, value: check.existingSlot! }
          : await this.ensureSlot(spec.slot, spec.failover === true ? { failover: true } : {});
    } catch (error) {
      // Leave the server as it was: undo what this call did to the publication.
      if (publication.created) await this.dropPublication(spec.publication).catch(() => undefined);
      else if (check.addsTables.length > 0)
        await this.removeTables(spec.publication, check.addsTables).catch(() => undefined);
      throw error;
    }
    return { publication, slot, tables: check.tables };
  }

  async #setupPublication(spec: SetupSpec, check: SetupCheck): Promise<Ensured<PublicationInfo>> {
    const options =
      spec.publishGeneratedColumns === undefined
        ? {}
        : { publishGeneratedColumns: spec.publishGeneratedColumns };
    if (check.createsPublication) {
      return this.ensurePublication(
        spec.publication,
        check.tables === null ? { allTables: true } : { tables: check.tables },
        options,
      );
    }
    if (check.addsTables.length > 0) {
      return { created: false, value: await this.addTables(spec.publication, check.addsTables) };
    }
    return { created: false, value: check.existingPublication! };
  }

  async resolveTables(tables: TableName[]): Promise<ResolvedTable[]> {
    const names = assertTables(tables);
    try {
      const { found, refs, searchPath } = await lookupTables(
        (sql, params) => this.#session.query(sql, params),
        names,
      );
      return requireFound(found, refs, searchPath);
    } catch (error) {
      throw mapSqlError(error, {});
    }
  }

  async #resolve(tables: TableName[]): Promise<QualifiedTable[]> {
    if (tables.length === 0) return [];
    const { found, refs, searchPath } = await lookupTables(
      (sql, params) => this.#session.query(sql, params),
      tables,
    );
    return requireFound(found, refs, searchPath).map((t) => ({ schema: t.schema, name: t.name }));
  }

  /** The WITH clause of CREATE PUBLICATION: publish, and on 18+ publish_generated_columns. */
  async #withClause(withPublish: string, options: EnsurePublicationOptions): Promise<string> {
    if (
      options.publishGeneratedColumns === false ||
      (await this.#session.serverVersionNum()) < 180000
    )
      return withPublish;
    return withPublish === ''
      ? ' WITH (publish_generated_columns = stored)'
      : `${withPublish.slice(0, -1)}, publish_generated_columns = stored)`;
  }

  async addTables(name: string, tables: TableName[]): Promise<PublicationInfo> {
    return this.#alterTables(name, tables, 'ADD');
  }

  async removeTables(name: string, tables: TableName[]): Promise<PublicationInfo> {
    return this.#alterTables(name, tables, 'DROP');
  }

  async #alterTables(
    name: string,
    tableNames: TableName[],
    action: 'ADD' | 'DROP',
  ): Promise<PublicationInfo> {
    assertPublicationName(name);
    const names = assertTables(tableNames);
    let tables: QualifiedTable[] = [];
    try {
      tables = await this.#resolve(names);
      const existing = await this.#requirePublication(name);
      if (existing.allTables) {
        throw new KoyoSlotError(
          'PUBLICATION_MISMATCH',
          `Publication "${name}" is FOR ALL TABLES: it has no table list to change.`,
        );
      }
      const present = (table: QualifiedTable): boolean =>
        existing.tables.some((have) => sameTable(have, table));
      const todo = tables.filter((table) => (action === 'ADD' ? !present(table) : present(table)));
      if (todo.length === 0) return existing;
      await this.#session.query(
        `ALTER PUBLICATION ${quoteIdent(name)} ${action} TABLE ${todo.map(quoteTable).join(', ')}`,
      );
      return await this.#requirePublication(name);
    } catch (error) {
      throw mapSqlError(error, { publication: name, tables });
    }
  }

  async #requirePublication(name: string): Promise<PublicationInfo> {
    const existing = await readPublication(this.#session, name);
    if (!existing) {
      throw new KoyoSlotError(
        'PUBLICATION_NOT_FOUND',
        `Publication "${name}" does not exist. Create it with ensurePublication("${name}", { tables }).`,
      );
    }
    return existing;
  }

  async dropPublication(name: string): Promise<boolean> {
    assertPublicationName(name);
    try {
      const existing = await readPublication(this.#session, name);
      if (!existing) return false;
      await this.#session.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
      return true;
    } catch (error) {
      throw mapSqlError(error, { publication: name });
    }
  }

  async getPublication(name: string): Promise<PublicationInfo | undefined> {
    assertPublicationName(name);
    try {
      return await readPublication(this.#session, name);
    } catch (error) {
      throw mapSqlError(error, { publication: name });
    }
  }

  async ensureSlot(name: string, options: EnsureSlotOptions = {}): Promise<Ensured<SlotInfo>> {
    assertSlotName(name);
    for (const key of ['twoPhase', 'failover', 'temporary'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'boolean') {
        throw new KoyoSlotError('INVALID_OPTION', `ensureSlot option ${key} must be a boolean.`);
      }
    }
    try {
      const version = await this.#session.serverVersionNum();
      if (options.failover === true && version < 170000) {
        throw new KoyoSlotError(
          'UNSUPPORTED',
          `Failover slots need PostgreSQL 17 or newer; this server is ${Math.floor(version / 10000)}. Drop the failover option. ` +
            "On this version a slot does not survive a promotion: after a failover, create the slot on the new primary and backfill (createDispatcher({ ..., backfill: 'initial' }) or `koyo run --backfill`), " +
            "or keep slots across failovers with your HA tool (Patroni's permanent slots, the pg_failover_slots extension).",
        );
      }
      let created = false;
      let [slot] = await readSlots(this.#session, name);
      if (!slot) {
        const args = [name, 'pgoutput', options.temporary ?? false, options.twoPhase ?? false];
        const sql =
          version >= 170000
            ? 'SELECT 1 FROM pg_create_logical_replication_slot($1, $2, $3, $4, $5)'
            : 'SELECT 1 FROM pg_create_logical_replication_slot($1, $2, $3, $4)';
        try {
          await this.#session.query(
            sql,
            version >= 170000 ? [...args, options.failover ?? false] : args,
          );
          created = true;
        } catch (error) {
          if (asPgError(error)?.code !== '42710') throw error;
        }
        [slot] = await readSlots(this.#session, name);
        if (!slot)
          throw new KoyoSlotError(
            'SLOT_NOT_FOUND',
            `Replication slot "${name}" vanished right after it was created; was it dropped concurrently?`,
          );
      }
      if (!created) {
        this.#checkExistingSlot(slot, options);
        await this.#checkSlotDatabase(slot);
      }
      return { created, value: slot };
    } catch (error) {
      throw mapSqlError(error, { slot: name });
    }
  }

  #checkExistingSlot(slot: SlotInfo, options: EnsureSlotOptions): void {
    const recreate = `Drop it (dropSlot("${slot.name}")) and create it again if you can afford to skip the changes it kept, or use another slot name.`;
    if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
      throw new KoyoSlotError(
        'SLOT_MISMATCH',
        `Replication slot "${slot.name}" exists but is a ${slot.type} slot with plugin ${slot.plugin ?? 'none'}; koyo needs a logical slot with pgoutput. ${recreate}`,
      );
    }
    if (slot.invalidated) {
      throw new KoyoSlotError(
        'SLOT_INVALIDATED',
        `Replication slot "${slot.name}" was invalidated (${slot.invalidationReason ?? 'wal_status = lost'}): the WAL it needed is gone. ${invalidatedSlotAdvice(slot.name)}`,
      );
    }
    if (options.twoPhase !== undefined && options.twoPhase !== slot.twoPhase) {
      throw new KoyoSlotError(
        'SLOT_MISMATCH',
        `Replication slot "${slot.name}" exists with twoPhase = ${slot.twoPhase}, not ${options.twoPhase}. ${recreate}`,
      );
    }
    if (
      options.failover !== undefined &&
      slot.failover !== null &&
      options.failover !== slot.failover
    ) {
      throw new KoyoSlotError(
        'SLOT_MISMATCH',
        `Replication slot "${slot.name}" exists with failover = ${slot.failover}, not ${options.failover}. Change it on a replication connection (psql "dbname=... replication=database" -c 'ALTER_REPLICATION_SLOT ${slot.name} (FAILOVER ${String(options.failover)})'), or ${recreate}`,
      );
    }
    if (options.temporary !== undefined && options.temporary !== slot.temporary) {
      throw new KoyoSlotError(
        'SLOT_MISMATCH',
        `Replication slot "${slot.name}" exists with temporary = ${slot.temporary}, not ${options.temporary}. ${recreate}`,
      );
    }
  }

  async #checkSlotDatabase(slot: SlotInfo): Promise<void> {
    const [row] = await this.#session.query<{ db: string }>(
      'SELECT current_database()::text AS db',
    );
    if (slot.database !== row?.db) {
      throw new KoyoSlotError(
        'SLOT_MISMATCH',
        `Replication slot "${slot.name}" belongs to database "${slot.database ?? ''}", not "${row?.db ?? ''}". Connect to that database, or use another slot name.`,
      );
    }
  }

  async dropSlot(name: string, options: DropSlotOptions = {}): Promise<boolean> {
    const dropped = await this.#dropSlot(name, options);
    if (!options.keepOrigin)
      await this.dropOrigin(originNameForSlot(name), { force: options.force === true });
    return dropped;
  }

  async listOrigins(): Promise<OriginInfo[]> {
    return listOrigins(this.#queryable);
  }

  async dropOrigin(
    name: string,
    options: { waitMs?: number; force?: boolean } = {},
  ): Promise<boolean> {
    return dropOrigin(this.#queryable, name, options.waitMs, options.force);
  }

  get #queryable() {
    return {
      query: async (sql: string, params?: unknown[]) => ({
        rows: await this.#session.query(sql, params),
      }),
    };
  }

  async #dropSlot(name: string, options: DropSlotOptions): Promise<boolean> {
    assertSlotName(name);
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        const [slot] = await readSlots(this.#session, name);
        if (!slot) return false;
        const [self] = await this.#session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        if (slot.activePid !== null && slot.activePid !== self?.pid) {
          if (!options.force) {
            throw new KoyoSlotError(
              'SLOT_ACTIVE',
              `Replication slot "${name}" is in use by PID ${slot.activePid}. Stop that consumer first, or call dropSlot("${name}", { force: true }) to terminate it.`,
            );
          }
          await this.#session.query('SELECT pg_terminate_backend($1)', [slot.activePid]);
        }
        try {
          await this.#session.query('SELECT pg_drop_replication_slot($1)', [name]);
          return true;
        } catch (error) {
          const code = asPgError(error)?.code;
          if (code === '42704') return false;
          // The holder is still exiting (or a new one took it): look again until the deadline.
          if (code !== '55006' || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } catch (error) {
      throw mapSqlError(error, { slot: name });
    }
  }

  async listSlots(): Promise<SlotInfo[]> {
    try {
      return await readSlots(this.#session);
    } catch (error) {
      throw mapSqlError(error, {});
    }
  }

  async getSlot(name: string): Promise<SlotInfo | undefined> {
    assertSlotName(name);
    try {
      const [slot] = await readSlots(this.#session, name);
      return slot;
    } catch (error) {
      throw mapSqlError(error, { slot: name });
    }
  }

  async diagnose(target: DiagnoseTarget): Promise<DiagnosticCheck[]> {
    return runDiagnostics(this.#session, target, this.#connection);
  }

  async close(): Promise<void> {
    await this.#session.close();
  }
}

/**
 * Creates a manager for replication slots and publications. It opens one ordinary connection on
 * first use; call `close()` when done. Every name is validated before anything is sent.
 *
 * @example
 * const manager = createSlotManager('postgres://app@db/shop');
 * await manager.ensurePublication('koyo_orders', { tables: ['public.orders', 'public.items'] });
 * await manager.ensureSlot('koyo_orders');
 * console.table(await manager.listSlots());
 * await manager.close();
 */
export function createSlotManager(connection: ConnectionOptions): SlotManager {
  return new SlotManagerImpl(connection);
}
