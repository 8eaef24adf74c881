import type { SetupProblem } from './errors.js';
import {
  assertPublicationName,
  assertSlotName,
  quoteIdent,
  quoteLiteral,
  quoteTable,
  tableLabel,
  type QualifiedTable,
  type TableName,
} from './identifiers.js';
import { readPublication, type PublicationInfo } from './publication-info.js';
import {
  findTablesWithoutIdentity,
  identityProblem,
  needsReplicaIdentity,
} from './replica-identity.js';
import type { SqlSession } from './session.js';
import { readSlots, type SlotInfo } from './slot-info.js';
import { lookupTables, notFoundMessage } from './table-resolve.js';

/** What a consumer needs set up: a publication (and its tables) and a logical slot. */
export interface SetupSpec {
  /** The publication to use or create. */
  publication: string;
  /** The replication slot to use or create (pgoutput, this database). */
  slot: string;
  /**
   * Tables the publication must cover; unqualified names are found on the connection's
   * `search_path`. `'*'`: a missing publication is created `FOR ALL TABLES` (needs a superuser;
   * asked explicitly because every table without a primary key then rejects UPDATE and DELETE).
   * Omitted: an existing publication is used as it is; a missing one is a
   * `PUBLICATION_TABLES_REQUIRED` problem.
   */
  tables?: TableName[] | '*';
  /** Create the publication when missing, and add missing `tables` to an existing one. Default true. */
  createPublication?: boolean;
  /** Create the slot when missing. Default true. */
  createSlot?: boolean;
  /**
   * PostgreSQL 18+: a publication this call creates publishes stored generated columns
   * (`publish_generated_columns = stored`), so they are in every change. Default true; ignored by
   * older servers, whose pgoutput never sends generated columns.
   */
  publishGeneratedColumns?: boolean;
  /**
   * PostgreSQL 17+: the slot is a failover slot, synchronised to standbys that have
   * `sync_replication_slots = on`, so it survives a promotion. Default false. Before 17 an
   * `UNSUPPORTED` problem; an existing slot without it a `SLOT_MISMATCH` problem with the fix.
   */
  failover?: boolean;
}

/** What {@link SlotManager.checkSetup} found: every failed precondition, and what a setup would do. */
export interface SetupCheck {
  /** True when `problems` is empty: `ensureSetup` would succeed as far as can be known in advance. */
  ok: boolean;
  /** Every precondition that does not hold, each with its error code and fix. */
  problems: SetupProblem[];
  /** The `tables` as PostgreSQL resolves them (qualified), or `null` without `tables` or with `'*'`. Unresolvable ones are left out. */
  tables: QualifiedTable[] | null;
  /** The publication as it is now, or `undefined`. */
  existingPublication: PublicationInfo | undefined;
  /** The slot as it is now, or `undefined`. */
  existingSlot: SlotInfo | undefined;
  /** A setup would create the publication. */
  createsPublication: boolean;
  /** A setup would add these tables to the existing publication. */
  addsTables: QualifiedTable[];
  /** A setup would create the slot. */
  createsSlot: boolean;
}

interface ServerFacts {
  wal_level: string;
  db: string;
  usr: string;
  superuser: boolean;
  replication: boolean;
  can_create: boolean;
  max_slots: number;
  used_slots: number;
  max_senders: number;
  used_senders: number;
}

/**
 * @internal checks every precondition of a setup without changing anything: `wal_level`, the
 * REPLICATION attribute, free slots and WAL senders, the right to create (or alter) the
 * publication, that each table exists, is a permanent table and is owned by the role, and that an
 * existing slot fits.
 */
export async function checkSetupOn(session: SqlSession, spec: SetupSpec): Promise<SetupCheck> {
  assertPublicationName(spec.publication);
  assertSlotName(spec.slot);
  const problems: SetupProblem[] = [];
  const problem = (
    code: SetupProblem['code'],
    message: string,
    fix: string | null = null,
  ): void => {
    problems.push({ code, message, fix });
  };
  const [facts] = await session.query<ServerFacts>(`
    SELECT current_setting('wal_level') AS wal_level, current_database()::text AS db, current_user::text AS usr,
           r.rolsuper AS superuser, r.rolreplication AS replication,
           has_database_privilege(current_database(), 'CREATE') AS can_create,
           current_setting('max_replication_slots')::int AS max_slots,
           (SELECT count(*)::int FROM pg_replication_slots) AS used_slots,
           current_setting('max_wal_senders')::int AS max_senders,
           (SELECT count(*)::int FROM pg_stat_replication) AS used_senders
      FROM pg_roles r WHERE r.rolname = current_user`);
  const f = facts!;
  const pub = quoteIdent(spec.publication);

  if (f.wal_level !== 'logical') {
    problem(
      'WAL_LEVEL',
      `wal_level = ${f.wal_level}: logical replication needs wal_level = logical.`,
      'ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL',
    );
  }
  if (!f.superuser && !f.replication) {
    problem(
      'PERMISSION_DENIED',
      `Role "${f.usr}" has neither REPLICATION nor superuser: it cannot create a slot or stream from one.`,
      `ALTER ROLE ${quoteIdent(f.usr)} WITH REPLICATION;`,
    );
  }

  // Tables: resolved like PostgreSQL resolves them, each a permanent table the role owns.
  let tables: QualifiedTable[] | null = null;
  const unowned: QualifiedTable[] = [];
  if (spec.tables !== undefined && spec.tables !== '*') {
    const { found, refs, searchPath } = await lookupTables(
      (sql, params) => session.query(sql, params),
      spec.tables,
    );
    tables = [];
    refs.forEach((ref, index) => {
      const table = found[index];
      if (!table) {
        problem('TABLE_NOT_FOUND', notFoundMessage(ref, searchPath));
        return;
      }
      const qualified = { schema: table.schema, name: table.name };
      if (table.kind !== 'r' && table.kind !== 'p') {
        problem(
          'TABLE_NOT_FOUND',
          `${tableLabel(qualified)} is not a table (relkind ${table.kind}): only tables can be published.`,
        );
      } else if (table.persistence !== 'p') {
        problem(
          'TABLE_NOT_FOUND',
          `${tableLabel(qualified)} is ${table.persistence === 'u' ? 'unlogged' : 'temporary'}: its changes are not in the WAL, so it cannot be published.`,
          table.persistence === 'u' ? `ALTER TABLE ${quoteTable(qualified)} SET LOGGED;` : null,
        );
      } else if (!table.owned) {
        unowned.push(qualified);
      }
      if (!tables!.some((t) => t.schema === qualified.schema && t.name === qualified.name))
        tables!.push(qualified);
    });
  }

  const existingPublication = await readPublication(session, spec.publication);
  const createPublication = spec.createPublication !== false;
  let createsPublication = false;
  let addsTables: QualifiedTable[] = [];
  if (!existingPublication) {
    if (!createPublication) {
      const target =
        tables && tables.length > 0
          ? `FOR TABLE ${tables.map(quoteTable).join(', ')}`
          : 'FOR TABLE <schema.table>, ...';
      problem(
        'PUBLICATION_NOT_FOUND',
        `Publication "${spec.publication}" does not exist in database "${f.db}", and creating it is off.`,
        `CREATE PUBLICATION ${pub} ${target};`,
      );
    } else {
      createsPublication = true;
      if (!f.superuser && !f.can_create) {
        problem(
          'PERMISSION_DENIED',
          `Role "${f.usr}" cannot create publication "${spec.publication}": it lacks CREATE on database "${f.db}".`,
          `GRANT CREATE ON DATABASE ${quoteIdent(f.db)} TO ${quoteIdent(f.usr)};`,
        );
      }
      if (spec.tables === undefined) {
        problem(
          'PUBLICATION_TABLES_REQUIRED',
          `Publication "${spec.publication}" does not exist, and no tables were given: koyo publishes every table only when asked to.`,
          `List the tables to publish (tables: ['users', ...], or koyo setup --table users,...), or ask for every table with tables: '*' (koyo setup --all-tables): CREATE PUBLICATION ${pub} FOR ALL TABLES;`,
        );
      } else if (tables === null && !f.superuser) {
        problem(
          'PERMISSION_DENIED',
          `Creating publication "${spec.publication}" FOR ALL TABLES needs a superuser, and role "${f.usr}" is not one.`,
          'List the tables to publish (tables: [...]), or create the publication as a superuser.',
        );
      }
      addsTables = tables ?? [];
    }
  } else if (createPublication && tables !== null && !existingPublication.allTables) {
    addsTables = tables.filter(
      (t) =>
        !existingPublication.tables.some(
          (have) => have.schema === t.schema && have.name === t.name,
        ),
    );
    if (addsTables.length > 0) {
      const [owner] = await session.query<{ owned: boolean }>(
        "SELECT pg_has_role(pubowner, 'USAGE') AS owned FROM pg_publication WHERE pubname = $1",
        [spec.publication],
      );
      if (owner?.owned !== true) {
        problem(
          'PERMISSION_DENIED',
          `Role "${f.usr}" does not own publication "${spec.publication}", so it cannot add ${addsTables.map(tableLabel).join(', ')} to it.`,
          `ALTER PUBLICATION ${pub} ADD TABLE ${addsTables.map(quoteTable).join(', ')}; -- as the publication's owner`,
        );
      }
    }
  }
  // A table without a replica identity rejects UPDATE/DELETE once published: refuse to publish it,
  // unless the existing publication publishes only inserts (then the server refuses nothing).
  const publishesAll = createsPublication && spec.tables === '*';
  const keyless =
    existingPublication && !needsReplicaIdentity(existingPublication.publish)
      ? []
      : await findTablesWithoutIdentity(session, publishesAll ? 'all' : addsTables);
  if (keyless.length > 0) {
    const { message, fix } = identityProblem(keyless, publishesAll);
    problem('REPLICA_IDENTITY_MISSING', message, fix);
  }
  const mustOwn = unowned.filter((t) =>
    addsTables.some((a) => a.schema === t.schema && a.name === t.name),
  );
  if (mustOwn.length > 0) {
    problem(
      'PERMISSION_DENIED',
      `Role "${f.usr}" does not own ${mustOwn.map(tableLabel).join(', ')}: publishing a table needs its ownership.`,
      `Run the setup as the tables' owner, or: ${mustOwn.map((t) => `ALTER TABLE ${quoteTable(t)} OWNER TO ${quoteIdent(f.usr)};`).join(' ')}`,
    );
  }

  const version = await session.serverVersionNum();
  if (spec.failover === true && version < 170000) {
    problem(
      'UNSUPPORTED',
      `Failover slots need PostgreSQL 17 or newer; this server is ${Math.floor(version / 10000)}.`,
      "Drop the failover option; after a promotion create the slot on the new primary and backfill (backfill: 'initial'), or keep slots with your HA tool (Patroni permanent slots, pg_failover_slots).",
    );
  }
  const [existingSlot] = await readSlots(session, spec.slot);
  let createsSlot = false;
  const recreate = `SELECT pg_drop_replication_slot(${quoteLiteral(spec.slot)}); -- the changes it kept are lost; or use another slot name`;
  if (existingSlot) {
    if (existingSlot.type !== 'logical' || existingSlot.plugin !== 'pgoutput') {
      problem(
        'SLOT_MISMATCH',
        `Replication slot "${spec.slot}" is a ${existingSlot.type} slot with plugin ${existingSlot.plugin ?? 'none'}; koyo needs a logical slot with pgoutput.`,
        recreate,
      );
    } else if (existingSlot.database !== f.db) {
      problem(
        'SLOT_MISMATCH',
        `Replication slot "${spec.slot}" belongs to database "${existingSlot.database ?? ''}", not "${f.db}".`,
        'Connect to that database, or use another slot name.',
      );
    } else if (existingSlot.invalidated) {
      problem(
        'SLOT_INVALIDATED',
        `Replication slot "${spec.slot}" was invalidated (${existingSlot.invalidationReason ?? 'wal_status = lost'}): the WAL it needed is gone.`,
        `${recreate}; then backfill your data into the new slot`,
      );
    } else if (spec.failover === true && existingSlot.failover === false) {
      problem(
        'SLOT_MISMATCH',
        `Replication slot "${spec.slot}" is not a failover slot, so standbys do not keep it.`,
        `psql "dbname=${f.db} replication=database" -c 'ALTER_REPLICATION_SLOT ${spec.slot} (FAILOVER true)'`,
      );
    }
  } else if (spec.createSlot === false) {
    problem(
      'SLOT_NOT_FOUND',
      `Replication slot "${spec.slot}" does not exist, and creating it is off.`,
      `SELECT pg_create_logical_replication_slot(${quoteLiteral(spec.slot)}, 'pgoutput');`,
    );
  } else {
    createsSlot = true;
    if (f.used_slots >= f.max_slots) {
      problem(
        'SLOT_LIMIT',
        `All ${f.max_slots} replication slots (max_replication_slots) are in use: there is no room for slot "${spec.slot}".`,
        `ALTER SYSTEM SET max_replication_slots = ${Math.max(10, f.max_slots * 2)}; -- then restart PostgreSQL; or drop a slot no one uses`,
      );
    }
  }
  // A slot already held by a process is being streamed: a stream here waits for it as a standby.
  if (f.used_senders >= f.max_senders && existingSlot?.activePid == null) {
    problem(
      'SLOT_LIMIT',
      `All ${f.max_senders} WAL senders (max_wal_senders) are busy: the replication connection would be refused.`,
      `ALTER SYSTEM SET max_wal_senders = ${Math.max(10, f.max_senders * 2)}; -- then restart PostgreSQL`,
    );
  }

  return {
    ok: problems.length === 0,
    problems,
    tables,
    existingPublication,
    existingSlot,
    createsPublication,
    addsTables,
    createsSlot,
  };
}
