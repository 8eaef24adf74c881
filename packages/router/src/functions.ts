import { KoyoRouterError } from './errors.js';
import { hashText } from './lexer.js';

/**
 * Functions whose call makes a statement a write (or primary-only), whatever the statement looks
 * like: sequences, advisory locks, transaction ids, WAL positions and WAL control, session
 * settings, notifications, replication slots and origins, large objects, `dblink_exec`, writing
 * built-ins (BRIN/GIN index maintenance, `pg_import_system_collations`, `pg_nextoid`,
 * `pg_log_standby_snapshot`) and server-local administration (`pg_reload_conf`,
 * `pg_cancel_backend`, `pg_terminate_backend`, `pg_stat_reset*`, `pg_rotate_logfile`,
 * `pg_log_backend_memory_contexts`, `pg_promote`), which on a replica would act on the wrong
 * server.
 * A trailing `*` matches every function whose name starts with the rest.
 *
 * @example
 * createRouter({ ..., volatileFunctions: [...DEFAULT_VOLATILE_FUNCTIONS, 'audit_log_write'] });
 */
export const DEFAULT_VOLATILE_FUNCTIONS: readonly string[] = Object.freeze([
  'nextval',
  'setval',
  'currval',
  'lastval',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
  'pg_advisory_xact_lock',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
  'pg_advisory*',
  'pg_try_advisory*',
  'txid_current',
  'txid_current_if_assigned',
  'pg_current_xact_id',
  'pg_current_xact_id_if_assigned',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'set_config',
  'pg_notify',
  'pg_logical_emit_message',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_changes',
  'pg_logical_slot_peek_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_peek_binary_changes',
  'pg_replication_origin*',
  'lo_create',
  'lo_creat',
  'lo_import',
  'lo_export',
  'lo_unlink',
  'lo_put',
  'lo_from_bytea',
  'lo_open',
  'lo_truncate',
  'lo_truncate64',
  'lowrite',
  'dblink_exec',
  // Built-ins that write although they are called from a SELECT: index maintenance, catalog.
  'brin_summarize_range',
  'brin_summarize_new_values',
  'brin_desummarize_range',
  'gin_clean_pending_list',
  'pg_import_system_collations',
  'pg_nextoid',
  'pg_log_standby_snapshot',
  // Server-local administration: on a replica it would act on the wrong server.
  'pg_reload_conf',
  'pg_cancel_backend',
  'pg_terminate_backend',
  'pg_stat_reset*',
  'pg_rotate_logfile',
  'pg_log_backend_memory_contexts',
  'pg_promote',
]);

/** @internal one exact entry of a {@link FunctionTable}. */
export interface ExactFunction {
  readonly name: string;
  readonly reason: string;
  next: ExactFunction | undefined;
}

/** @internal a compiled volatile-function list. */
export interface FunctionTable {
  /** Exact names by hash of the real (case-kept) name; chained on collision. */
  readonly exact: Map<number, ExactFunction>;
  /** Prefixes (without the `*`). */
  readonly prefixes: readonly string[];
}

const NAME = /^[^\s"().,;*]+\*?$/;

/** @internal compiles and validates a volatile-function list. */
export function compileFunctions(names: readonly string[]): FunctionTable {
  const exact = new Map<number, ExactFunction>();
  const prefixes: string[] = [];
  for (const raw of names) {
    if (typeof raw !== 'string' || !NAME.test(raw)) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        `volatileFunctions: ${JSON.stringify(raw)} is not a function name. Give names like 'nextval' or prefixes like 'pg_advisory*' (no schema, no quotes).`,
      );
    }
    if (raw.endsWith('*')) {
      const prefix = raw.slice(0, -1);
      if (!prefixes.includes(prefix)) prefixes.push(prefix);
      continue;
    }
    const hash = hashText(raw, true);
    let entry = exact.get(hash);
    while (entry && entry.name !== raw) entry = entry.next;
    if (entry) continue;
    exact.set(hash, { name: raw, reason: `classified:${raw}`, next: exact.get(hash) });
  }
  return { exact, prefixes };
}
