import type { ConnectionOptions } from './connection.js';
import { checkFailover } from './diagnose-failover.js';
import { checkOrigins } from './diagnose-origins.js';
import { checkPublication } from './diagnose-publication.js';
import { checkSlot, checkWalRetention } from './diagnose-slot.js';
import type { DiagnoseTarget, DiagnosticCheck, ServerFacts } from './diagnose-types.js';
import { KoyoSlotError } from './errors.js';
import { hostCandidates } from './hosts.js';
import { assertPublicationName, assertSlotName, quoteIdent } from './identifiers.js';
import { highestProtocolVersion } from './protocol.js';
import { SqlSession } from './session.js';
import { readSlots } from './slot-info.js';

// The server and role checks of diagnose(), and the order of all checks. The slot, publication,
// origin and failover checks live beside it (diagnose-*.ts).

const MIN_VERSION = 140000;

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

  let facts: ServerFacts;
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
  await checkWalRetention(session, target.inactiveSlotWarningBytes, facts, pass, fail);
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
