import type { ConnectionOptions } from './connection.js';
import { runDiagnostics } from './diagnose.js';
import type { DiagnoseTarget, DiagnosticCheck } from './diagnose-types.js';
import type { Ensured } from './ensured.js';
import { KoyoSlotError } from './errors.js';
import {
  assertPublicationName,
  assertSlotName,
  type QualifiedTable,
  type TableName,
} from './identifiers.js';
import { mapSqlError } from './management-errors.js';
import { dropOrigin, listOrigins, originNameForSlot, type OriginInfo } from './origins.js';
import { readPublication, type PublicationInfo } from './publication-info.js';
import {
  alterPublicationTables,
  assertTables,
  dropPublicationOn,
  ensurePublicationOn,
  type EnsurePublicationOptions,
  type PublicationSpec,
} from './publication-ops.js';
import { SqlSession } from './session.js';
import { checkSetupOn, type SetupCheck, type SetupSpec } from './setup-check.js';
import { readSlots, type SlotInfo } from './slot-info.js';
import {
  dropSlotOn,
  ensureSlotOn,
  type DropSlotOptions,
  type EnsureSlotOptions,
} from './slot-ops.js';
import { lookupTables, requireFound, type ResolvedTable } from './table-resolve.js';

// The slot manager's public shape and the session it runs on. The statements themselves live
// beside it: publication-ops.ts (publications), slot-ops.ts (slots), setup-check.ts (the
// preconditions), origins.ts (replication origins), diagnose.ts (diagnostics).

/** What {@link SlotManager.ensureSetup} did. */
export interface SetupResult {
  publication: Ensured<PublicationInfo>;
  /** The slot (with `createSlot: false`, the existing one, checked). */
  slot: Ensured<SlotInfo>;
  /** The `tables` as PostgreSQL resolved them (qualified), or `null` without `tables`. */
  tables: QualifiedTable[] | null;
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
    return ensurePublicationOn(this.#session, name, spec, options);
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

  async addTables(name: string, tables: TableName[]): Promise<PublicationInfo> {
    return alterPublicationTables(this.#session, name, tables, 'ADD');
  }

  async removeTables(name: string, tables: TableName[]): Promise<PublicationInfo> {
    return alterPublicationTables(this.#session, name, tables, 'DROP');
  }

  async dropPublication(name: string): Promise<boolean> {
    return dropPublicationOn(this.#session, name);
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
    return ensureSlotOn(this.#session, name, options);
  }

  async dropSlot(name: string, options: DropSlotOptions = {}): Promise<boolean> {
    const dropped = await dropSlotOn(this.#session, name, options);
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
