import type pg from 'pg';

/** What `koyo setup` learnt from the server (absent without a connection). */
export interface Facts {
  database: string;
  user: string;
  superuser: boolean;
  createRole: boolean;
  walLevel: string;
  maxSlots: number;
  maxSenders: number;
  keepSizeMb: number;
  publicationExists: boolean;
  slotExists: boolean;
  roleExists: boolean;
}

/** Reads what the plan depends on: settings, privileges, and what exists already. */
export async function readFacts(
  client: pg.Client,
  publication: string,
  slot: string,
  role: string,
): Promise<Facts> {
  const { rows } = await client.query(
    `SELECT current_database()::text AS database, current_user::text AS "user",
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            (SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user) AS create_role,
            current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots')::int AS max_slots,
            current_setting('max_wal_senders')::int AS max_senders,
            (SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size') AS keep_mb,
            EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS publication_exists,
            EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $2) AS slot_exists,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $3) AS role_exists`,
    [publication, slot, role],
  );
  const row = rows[0];
  return {
    database: row.database,
    user: row.user,
    superuser: row.superuser === true,
    createRole: row.create_role === true,
    walLevel: row.wal_level,
    maxSlots: row.max_slots,
    maxSenders: row.max_senders,
    keepSizeMb: Number(row.keep_mb),
    publicationExists: row.publication_exists,
    slotExists: row.slot_exists,
    roleExists: row.role_exists,
  };
}
