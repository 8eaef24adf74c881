import type { ConnectionOptions } from './connection.js';
import { KoyoSlotError } from './errors.js';
import { assertPublicationName, assertSlotName, quoteIdent, quoteLiteral } from './identifiers.js';
import {
  listOrigins,
  missingOriginPrivileges,
  ORIGIN_PREFIX,
  originGrantStatements,
  originNameForSlot,
} from './origins.js';
import { highestProtocolVersion } from './protocol.js';
import { readPublication, type PublicationInfo } from './publication-info.js';
import { needsReplicaIdentity } from './replica-identity.js';
import { SqlSession } from './session.js';
import { readSlots } from './slot-info.js';
import { checkFailover } from './diagnose-failover.js';
import { hostCandidates } from './hosts.js';

/** What to diagnose: a slot, a publication, or both. */
export interface DiagnoseTarget {
  /** The replication slot to check (exists, pgoutput, this database, not invalidated, holder, lag). */
  slot?: string;
  /** The publication to check (exists, tables covered, replica identity, right to create it). */
  publication?: string;
  /**
   * Also check replication origins (loop-safe writes from handlers): that the role may use the
   * origin functions (with the GRANTs when not), the slot's origin, and koyo origins whose slot is
   * gone (orphans).
   */
  origins?: boolean;
  /**
   * Also check the failover set-up (PostgreSQL 17+): the slot is a failover slot, the primary's
   * `synchronized_standby_slots` names the standbys' physical slots, and each standby has
   * `sync_replication_slots = on`, `hot_standby_feedback = on`, a `primary_slot_name`, a
   * `dbname` in `primary_conninfo`, and the slot synchronised. The standbys checked are the other
   * hosts of a multi-host connection (`postgres://primary,standby/db`), or {@link standbys}.
   * Default: on PostgreSQL 17+, when the connection names several hosts, `standbys` is given or
   * the slot is a failover slot (so `koyo doctor --url 'postgres://h1,h2/db'` checks it).
   */
  failover?: boolean;
  /** With `failover`: the standbys to check, instead of the other hosts of the connection. */
  standbys?: readonly ConnectionOptions[];
  /**
   * An inactive slot (no consumer streams from it) that retains more WAL than this is flagged:
   * the disk fills until its consumer returns or it is dropped. Default: 1 GiB, or half of
   * `max_slot_wal_keep_size` when that is smaller. `Infinity` turns the check off.
   */
  inactiveSlotWarningBytes?: number;
}

/** The result of one check of {@link diagnose}. */
export interface DiagnosticCheck {
  /** Stable id, e.g. `wal_level`, `slot`, `replica_identity:public.orders`. */
  id: string;
  /** Whether the check passed. */
  ok: boolean;
  /** `error`: replication cannot work; `warning`: it works but something will go wrong; `info`: for your information. */
  severity: 'error' | 'warning' | 'info';
  /** What was found, in a sentence. */
  message: string;
  /** The SQL or configuration line that fixes the problem; `null` when there is nothing to do. */
  fix: string | null;
}

const MIN_VERSION = 140000;

/**
 * A byte count for people: `1536` -> `'1.5 kB'` (binary units, as PostgreSQL's `pg_size_pretty`
 * counts). Used by `diagnose` and by the CLI's tables.
 *
 * @example
 * formatBytes(1536); // '1.5 kB'
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * @internal every check, on an open session. Connection failures become a failed `connect` check;
 * other unexpected errors are thrown.
 */
export async function runDiagnostics(
  session: SqlSession,
  target: DiagnoseTarget,
  connection?: ConnectionOptions,
): Promise<DiagnosticCheck[]> {
  if (typeof target !== 'object' || target === null) {
    throw new KoyoSlotError('INVALID_OPTION', 'diagnose needs { slot?, publication? }.');
  }
  if (target.slot !== undefined) assertSlotName(target.slot);
  if (target.publication !== undefined) assertPublicationName(target.publication);
  const checks: DiagnosticCheck[] = [];
  const pass = (id: string, message: string, fix?: string): void => {
    checks.push({ id, ok: true, severity: 'info', message, fix: fix ?? null });
  };
  const fail = (id: string, severity: 'error' | 'warning', message: string, fix?: string): void => {
    checks.push({ id, ok: false, severity, message, fix: fix ?? null });
  };

  let facts: Record<string, any>;
  try {
    [facts = {}] = await session.query(`
      SELECT current_setting('server_version_num')::int AS version_num, current_setting('server_version') AS version,
             current_setting('wal_level') AS wal_level, current_database()::text AS db, current_user::text AS usr,
             current_setting('max_replication_slots')::int AS max_slots,
             (SELECT count(*)::int FROM pg_replication_slots) AS used_slots,
             current_setting('max_wal_senders')::int AS max_senders,
             (SELECT count(*)::int FROM pg_stat_replication) AS used_senders,
             (SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size') AS keep_mb,
             r.rolsuper AS superuser, r.rolreplication AS replication,
             has_database_privilege(current_database(), 'CREATE') AS can_create,
             pg_is_in_recovery() AS in_recovery
        FROM pg_roles r WHERE r.rolname = current_user`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    fail(
      'connect',
      'error',
      `Cannot connect to PostgreSQL: ${message}`,
      'Check the connection string (host, port, user, password, database) and that the server accepts connections (pg_hba.conf).',
    );
    return checks;
  }
  pass('connect', `Connected to database "${facts.db}" as "${facts.usr}".`);

  const version = facts.version_num as number;
  if (version < MIN_VERSION) {
    fail(
      'server_version',
      'error',
      `PostgreSQL ${facts.version} is too old: koyo needs 14 or newer.`,
      'Upgrade PostgreSQL to version 14 or newer.',
    );
  } else {
    pass(
      'server_version',
      `PostgreSQL ${facts.version}: pgoutput protocol up to version ${highestProtocolVersion(version)}.`,
    );
  }

  if (facts.wal_level === 'logical') {
    pass('wal_level', 'wal_level = logical.');
  } else {
    fail(
      'wal_level',
      'error',
      `wal_level = ${facts.wal_level}: logical decoding needs wal_level = logical.`,
      'ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL',
    );
  }

  const slots = target.slot === undefined ? [] : await readSlots(session, target.slot);
  const slot = slots[0];
  const freeSlots = facts.max_slots - facts.used_slots;
  const slotsFix = `ALTER SYSTEM SET max_replication_slots = ${Math.max(10, facts.max_slots * 2)}; -- then restart PostgreSQL`;
  if (freeSlots > 0) {
    pass(
      'replication_slots',
      `${facts.used_slots} of max_replication_slots = ${facts.max_slots} in use.`,
    );
  } else if (target.slot !== undefined && !slot) {
    fail(
      'replication_slots',
      'error',
      `All ${facts.max_slots} replication slots are in use: there is no room for slot "${target.slot}".`,
      slotsFix,
    );
  } else {
    fail(
      'replication_slots',
      'warning',
      `All ${facts.max_slots} replication slots are in use: no new slot can be created.`,
      slotsFix,
    );
  }

  const freeSenders = facts.max_senders - facts.used_senders;
  const slotHeld = slot?.activePid !== null && slot?.activePid !== undefined;
  if (freeSenders > 0 || slotHeld) {
    pass('wal_senders', `${facts.used_senders} of max_wal_senders = ${facts.max_senders} in use.`);
  } else {
    fail(
      'wal_senders',
      'error',
      `All ${facts.max_senders} WAL senders are busy: a replication connection would be refused.`,
      `ALTER SYSTEM SET max_wal_senders = ${Math.max(10, facts.max_senders * 2)}; -- then restart PostgreSQL`,
    );
  }

  if (facts.superuser || facts.replication) {
    pass(
      'replication_role',
      `Role "${facts.usr}" ${facts.superuser ? 'is a superuser' : 'has the REPLICATION attribute'}.`,
    );
  } else {
    fail(
      'replication_role',
      'error',
      `Role "${facts.usr}" has neither REPLICATION nor superuser: it cannot open a replication connection.`,
      `ALTER ROLE ${quoteIdent(facts.usr)} WITH REPLICATION;`,
    );
  }

  if (target.publication !== undefined)
    await checkPublication(session, target.publication, facts, pass, fail);
  if (target.slot !== undefined) checkSlot(target.slot, slot, facts, pass, fail);
  await checkWalRetention(session, target, facts, pass, fail);
  if (target.origins) await checkOrigins(session, target.slot, pass, fail);
  // By default on 17+ when failover is in play: several hosts, standbys named, or a failover slot.
  const multiHost = connection !== undefined && hostCandidates(connection) !== undefined;
  const failover =
    target.failover ??
    (version >= 170000 && (multiHost || target.standbys !== undefined || slot?.failover === true));
  if (failover) {
    await checkFailover({
      session,
      connection,
      standbys: target.standbys,
      version,
      db: facts.db,
      slotName: target.slot,
      slot,
      pass,
      fail,
    });
  }
  return checks;
}

type Pass = (id: string, message: string, fix?: string) => void;
type Fail = (id: string, severity: 'error' | 'warning', message: string, fix?: string) => void;

const GIB = 1024 ** 3;

/** Slot safety: an unlimited `max_slot_wal_keep_size`, and inactive slots that keep WAL. */
async function checkWalRetention(
  session: SqlSession,
  target: DiagnoseTarget,
  facts: Record<string, any>,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const keepMb = facts.keep_mb as string | number | null;
  const keepBytes = keepMb === null ? -1 : Number(keepMb) * 1024 * 1024;
  if (keepBytes < 0) {
    fail(
      'max_slot_wal_keep_size',
      'warning',
      'max_slot_wal_keep_size = -1 (unlimited): a stalled or abandoned slot keeps WAL until the disk is full and the server stops.',
      "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); -- size to your disk; a slot past it is invalidated (then recreate it and backfill) instead of the server stopping",
    );
  } else {
    pass(
      'max_slot_wal_keep_size',
      `max_slot_wal_keep_size = ${formatBytes(keepBytes)}: a slot that falls further behind is invalidated instead of filling the disk.`,
    );
  }
  const limit =
    target.inactiveSlotWarningBytes ?? (keepBytes > 0 ? Math.min(GIB, keepBytes / 2) : GIB);
  if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `inactiveSlotWarningBytes must be a number of bytes >= 0, got ${JSON.stringify(target.inactiveSlotWarningBytes)}.`,
    );
  }
  const idle = (await readSlots(session)).filter(
    (s) => !s.active && !s.temporary && !s.invalidated && (s.retainedBytes ?? 0) > limit,
  );
  for (const s of idle) {
    fail(
      `inactive_slot:${s.name}`,
      'warning',
      `Replication slot "${s.name}" (${s.type}${s.database ? `, database ${s.database}` : ''}) is inactive and keeps ${formatBytes(s.retainedBytes ?? 0)} of WAL: it grows until its consumer comes back${keepBytes < 0 ? ' or the disk is full' : ' or the slot is invalidated'}.`,
      `Start its consumer, or drop it if it is abandoned: SELECT pg_drop_replication_slot(${quoteLiteral(s.name)});`,
    );
  }
  if (idle.length === 0)
    pass('inactive_slots', `No inactive slot keeps more than ${formatBytes(limit)} of WAL.`);
}

/** Privileges for origin-tagged writes, the slot's origin, and koyo origins left without their slot. */
async function checkOrigins(
  session: SqlSession,
  slotName: string | undefined,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const client = {
    query: async (sql: string, params?: unknown[]) => ({ rows: await session.query(sql, params) }),
  };
  const { role, missing } = await missingOriginPrivileges(client);
  if (missing.length === 0) {
    pass(
      'origin_privileges',
      `Role "${role}" may use replication origins (loop-safe writes from handlers).`,
    );
  } else {
    fail(
      'origin_privileges',
      'error',
      `Role "${role}" may not execute ${missing.join(', ')}: loop-safe writes from handlers (dispatcher.db) need them.`,
      originGrantStatements(role, missing).join(' '),
    );
  }
  const origins = await listOrigins(client);
  if (slotName !== undefined) {
    const name = originNameForSlot(slotName);
    const own = origins.find((o) => o.name === name);
    pass(
      'origin',
      own
        ? `Replication origin "${name}" exists${own.progress ? ` (progress ${own.progress})` : ''}.`
        : `Replication origin "${name}" does not exist yet; a dispatcher creates it on first use of dispatcher.db.`,
    );
  }
  const slots = new Set(
    (
      await session.query<{ name: string }>(
        'SELECT slot_name::text AS name FROM pg_replication_slots',
      )
    ).map((r) => r.name),
  );
  const orphans = origins.filter(
    (o) => o.name.startsWith(ORIGIN_PREFIX) && !slots.has(o.name.slice(ORIGIN_PREFIX.length)),
  );
  for (const orphan of orphans) {
    fail(
      `orphan_origin:${orphan.name}`,
      'warning',
      `Replication origin "${orphan.name}" belongs to slot "${orphan.name.slice(ORIGIN_PREFIX.length)}", which no longer exists.`,
      `SELECT pg_replication_origin_drop(${quoteLiteral(orphan.name)});`,
    );
  }
  if (orphans.length === 0)
    pass('orphan_origins', 'No koyo replication origin is left without its slot.');
}

async function checkPublication(
  session: SqlSession,
  name: string,
  facts: Record<string, any>,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const publication = await readPublication(session, name);
  if (publication) {
    pass('create_publication', `Publication "${name}" exists; nothing to create.`);
  } else if (facts.superuser || facts.can_create) {
    pass(
      'create_publication',
      `Role "${facts.usr}" may create publication "${name}" (it must also own the tables it publishes).`,
    );
  } else {
    fail(
      'create_publication',
      'error',
      `Role "${facts.usr}" cannot create publication "${name}": it lacks CREATE on database "${facts.db}".`,
      `GRANT CREATE ON DATABASE ${quoteIdent(facts.db)} TO ${quoteIdent(facts.usr)};`,
    );
  }
  if (!publication) {
    fail(
      'publication',
      'error',
      `Publication "${name}" does not exist in database "${facts.db}".`,
      `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE <schema.table>, ...;`,
    );
    return;
  }
  const list = publication.tables.map((t) => `${t.schema}.${t.name}`);
  const shown =
    list.length > 20
      ? `${list.slice(0, 20).join(', ')} and ${list.length - 20} more`
      : list.join(', ');
  if (list.length === 0) {
    fail(
      'publication',
      'warning',
      `Publication "${name}" exists but covers no table: nothing will be streamed.`,
      `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE <schema.table>;`,
    );
  } else {
    pass(
      'publication',
      `Publication "${name}" ${publication.allTables ? 'is FOR ALL TABLES and covers' : 'covers'} ${list.length} table${list.length === 1 ? '' : 's'}: ${shown}; publishes ${publication.publish.join(', ')}.`,
    );
  }
  await checkGeneratedColumns(session, publication, facts.version_num as number, pass, fail);
  if (!needsReplicaIdentity(publication.publish)) return;
  const rows = await session.query<{
    schema: string;
    name: string;
    ident: string;
    has_pk: boolean;
  }>(
    `SELECT pt.schemaname::text AS schema, pt.tablename::text AS name, c.relreplident::text AS ident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE pt.pubname = $1 ORDER BY 1, 2`,
    [name],
  );
  let problems = 0;
  for (const row of rows) {
    const label = `${row.schema}.${row.name}`;
    const fix = `ALTER TABLE ${quoteIdent(row.schema)}.${quoteIdent(row.name)} REPLICA IDENTITY FULL; -- or add a primary key`;
    if (row.ident === 'n') {
      problems++;
      fail(
        `replica_identity:${label}`,
        'warning',
        `Table ${label} has REPLICA IDENTITY NOTHING: PostgreSQL refuses UPDATE and DELETE on it while it is published.`,
        fix,
      );
    } else if (row.ident === 'd' && !row.has_pk) {
      problems++;
      fail(
        `replica_identity:${label}`,
        'warning',
        `Table ${label} has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL refuses UPDATE and DELETE on it while it is published.`,
        fix,
      );
    }
  }
  if (problems === 0) {
    pass(
      'replica_identity',
      `Every published table has a usable replica identity (primary key, index or FULL).`,
    );
  }
}

/** pgoutput sends stored generated columns only on PostgreSQL 18+ with publish_generated_columns = stored. */
async function checkGeneratedColumns(
  session: SqlSession,
  publication: PublicationInfo,
  version: number,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const rows = await session.query<{ schema: string; name: string; columns: string }>(
    `SELECT pt.schemaname::text AS schema, pt.tablename::text AS name, string_agg(a.attname::text, ', ' ORDER BY a.attnum) AS columns
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = 's'
      WHERE pt.pubname = $1
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [publication.name],
  );
  if (rows.length === 0 || publication.publishGeneratedColumns) {
    if (rows.length > 0)
      pass(
        'generated_columns',
        `Publication "${publication.name}" publishes stored generated columns: they are in change.new.`,
      );
    return;
  }
  const fix =
    version >= 180000
      ? `ALTER PUBLICATION ${quoteIdent(publication.name)} SET (publish_generated_columns = stored);`
      : 'Upgrade to PostgreSQL 18 (koyo then publishes them), or read the columns back from the table in your handler.';
  const why =
    version >= 180000
      ? `publication "${publication.name}" does not publish them (publish_generated_columns = none)`
      : `PostgreSQL before 18 never sends generated columns`;
  for (const row of rows) {
    fail(
      `generated_columns:${row.schema}.${row.name}`,
      'warning',
      `Table ${row.schema}.${row.name} has stored generated columns (${row.columns}): ${why}, so changes lack them.`,
      fix,
    );
  }
}

function checkSlot(
  name: string,
  slot: Awaited<ReturnType<typeof readSlots>>[number] | undefined,
  facts: Record<string, any>,
  pass: Pass,
  fail: Fail,
): void {
  if (!slot) {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" does not exist.`,
      `SELECT pg_create_logical_replication_slot(${quoteLiteral(name)}, 'pgoutput');`,
    );
    return;
  }
  const recreate = `SELECT pg_drop_replication_slot(${quoteLiteral(name)}); SELECT pg_create_logical_replication_slot(${quoteLiteral(name)}, 'pgoutput'); -- the changes the old slot kept are lost: resynchronise`;
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" is a ${slot.type} slot with plugin ${slot.plugin ?? 'none'}; koyo needs a logical slot with pgoutput.`,
      recreate,
    );
    return;
  }
  if (slot.database !== facts.db) {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" belongs to database "${slot.database ?? ''}", not "${facts.db}".`,
      `Connect to database "${slot.database ?? ''}", or create a slot in "${facts.db}".`,
    );
    return;
  }
  pass(
    'slot',
    `Replication slot "${name}" exists (pgoutput${slot.twoPhase ? ', two-phase' : ''}${slot.temporary ? ', temporary' : ''}).`,
  );

  if (slot.invalidated) {
    fail(
      'slot_invalidated',
      'error',
      `Replication slot "${name}" is invalidated (${slot.invalidationReason ?? 'wal_status = lost'}): the WAL it needs is gone and it can never stream again.`,
      recreate,
    );
  } else {
    pass(
      'slot_invalidated',
      `Replication slot "${name}" is valid (wal_status = ${slot.walStatus ?? 'unknown'}).`,
    );
  }

  if (slot.activePid !== null) {
    pass(
      'slot_active',
      `Replication slot "${name}" is held by PID ${slot.activePid}: another stream on it waits until that process lets go.`,
      `SELECT pg_terminate_backend(${slot.activePid}); -- only to take the slot over`,
    );
  } else {
    pass('slot_active', `Replication slot "${name}" is free: no process streams from it now.`);
  }

  const retained = slot.retainedBytes ?? 0;
  const lag = slot.lagBytes ?? 0;
  const keepMb = facts.keep_mb as string | number | null;
  const keepBytes = keepMb === null ? -1 : Number(keepMb) * 1024 * 1024;
  const base = `Slot "${name}" is ${formatBytes(lag)} behind and keeps ${formatBytes(retained)} of WAL`;
  if (keepBytes < 0) {
    pass(
      'slot_lag',
      `${base}; max_slot_wal_keep_size = -1, so a stalled consumer can fill the disk.`,
      `ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); -- size to your disk`,
    );
  } else if (slot.walStatus === 'unreserved' || retained >= keepBytes * 0.8) {
    fail(
      'slot_lag',
      'warning',
      `${base}, close to max_slot_wal_keep_size = ${formatBytes(keepBytes)}: the slot will be invalidated if the consumer does not catch up.`,
      `Start or speed up the consumer, or: ALTER SYSTEM SET max_slot_wal_keep_size = '${Math.ceil((keepBytes * 2) / 1024 / 1024)}MB'; SELECT pg_reload_conf();`,
    );
  } else {
    pass('slot_lag', `${base}, within max_slot_wal_keep_size = ${formatBytes(keepBytes)}.`);
  }
}

/**
 * Checks everything logical replication needs, on one connection, and says how to fix each
 * problem: connection, server version, `wal_level`, free slots and WAL senders, the role's
 * REPLICATION attribute and right to create the publication, the publication and its tables'
 * replica identity, the slot (exists, pgoutput, same database, not invalidated, who holds it) and
 * its lag against `max_slot_wal_keep_size`; an unlimited `max_slot_wal_keep_size` and inactive slots
 * that keep WAL; and, on PostgreSQL 17+, the failover set-up of the primary and its standbys.
 *
 * @example
 * for (const check of await diagnose(process.env.DATABASE_URL!, { slot: 'koyo', publication: 'koyo' })) {
 *   if (!check.ok) console.log(`${check.severity}: ${check.message}\n  fix: ${check.fix}`);
 * }
 */
export async function diagnose(
  connection: ConnectionOptions,
  target: DiagnoseTarget,
): Promise<DiagnosticCheck[]> {
  const session = new SqlSession(connection);
  try {
    return await runDiagnostics(session, target, connection);
  } finally {
    await session.close();
  }
}
