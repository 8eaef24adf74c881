import { createSlotManager } from '@koyo/slot';
import type pg from 'pg';
import type { ResolvedConnection } from '../context.js';
import { quoteIdent, quoteLiteral, quoteTableRef } from '../sql.js';
import type { Facts } from './facts.js';

/** One step of the plan: the SQL, whether it is needed, and whether `--apply` runs it. */
export interface Step {
  section: number;
  sql: string;
  /** Why, or what is there now. */
  note: string;
  needed: boolean;
  /** `--apply` runs it (false: printed only). */
  apply: boolean;
  /** Why `--apply` does not run it. */
  skip?: string;
  run?: () => Promise<string>;
}

const MIN_SLOTS = 10;
const MIN_SENDERS = 10;

/** The heading of each section of the printed plan. */
export const SECTIONS: Record<number, string> = {
  1: 'Server settings (as a superuser). wal_level and the max_* settings take effect after a restart.',
  2: 'The publication: which tables are streamed. Run as the owner of the tables.',
  3: 'The replication slot. koyo run creates it too; creating it now keeps every change from now on.',
  4: 'A least-privilege role for koyo: LOGIN and REPLICATION, no table privileges, no superuser.',
};

/** What the plan is made from. */
export interface PlanInput {
  facts: Facts | undefined;
  slot: string;
  publication: string;
  tables: readonly { schema: string | null; name: string }[];
  allTables: boolean;
  role: string;
  roleGiven: boolean;
  client: pg.Client | undefined;
  conn: ResolvedConnection | undefined;
}

/**
 * The statements `koyo setup` prints, in sections (settings, publication, slot, role): each
 * marked as needed or already done from the server's `facts` (all needed without them), with
 * what `--apply` runs for it.
 */
export function plan(input: PlanInput): Step[] {
  const { facts, slot, publication, tables, allTables, role, client, conn } = input;
  const steps: Step[] = [];
  const exec = (sql: string) => async (): Promise<string> => {
    await client!.query(sql);
    return sql;
  };
  const setting = (name: string, sql: string, needed: boolean, now: string): void => {
    steps.push({
      section: 1,
      sql,
      note: needed ? (facts ? `now ${now}` : '') : `${name} = ${now}`,
      needed,
      apply: facts?.superuser === true,
      skip: 'needs a superuser',
      run: exec(sql),
    });
  };
  setting(
    'wal_level',
    'ALTER SYSTEM SET wal_level = logical;',
    facts === undefined || facts.walLevel !== 'logical',
    facts?.walLevel ?? '',
  );
  const limits: [name: string, min: number, now: number | undefined][] = [
    ['max_replication_slots', MIN_SLOTS, facts?.maxSlots],
    ['max_wal_senders', MIN_SENDERS, facts?.maxSenders],
  ];
  for (const [name, min, now] of limits) {
    setting(
      name,
      `ALTER SYSTEM SET ${name} = ${Math.max(min, now ?? 0)};`,
      now === undefined || now < min,
      String(now ?? ''),
    );
  }
  const keepNeeded = facts === undefined || facts.keepSizeMb < 0;
  steps.push({
    section: 1,
    sql: "-- ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf();",
    note: keepNeeded
      ? 'recommended, never applied: caps the WAL a stalled slot keeps (size it to your disk; a slot past the cap is invalidated)'
      : `max_slot_wal_keep_size = ${facts.keepSizeMb}MB`,
    needed: keepNeeded,
    apply: false,
    skip: 'a limit only you can size',
  });
  if (facts && !facts.superuser) {
    for (const step of steps)
      if (step.needed && step.section === 1 && step.run)
        step.note += `; needs a superuser, ${facts.user} is not one`;
  }

  const target =
    tables.length > 0
      ? `FOR TABLE ${tables.map(quoteTableRef).join(', ')}`
      : allTables
        ? 'FOR ALL TABLES'
        : 'FOR TABLE <schema.table>, ...';
  const pubSql = `CREATE PUBLICATION ${quoteIdent(publication)} ${target};`;
  const slotSql = `SELECT pg_create_logical_replication_slot(${quoteLiteral(slot)}, 'pgoutput');`;
  // Publication and slot are made together by @koyo/slot's ensureSetup: if the slot fails, the
  // publication it just created is dropped again. The slot step prints what the first one did.
  let ensured: Promise<{ publication: boolean; slot: boolean }> | undefined;
  const ensure = (): Promise<{ publication: boolean; slot: boolean }> =>
    (ensured ??= (async () => {
      const manager = createSlotManager(conn!.connection);
      try {
        const result = await manager.ensureSetup({
          publication,
          slot,
          ...tablesSpec(tables, allTables),
        });
        return { publication: result.publication.created, slot: result.slot.created };
      } finally {
        await manager.close();
      }
    })());
  steps.push({
    section: 2,
    sql: pubSql,
    note: facts?.publicationExists
      ? `publication ${publication} exists`
      : tables.length > 0
        ? ''
        : allTables
          ? 'FOR ALL TABLES needs a superuser; every table needs a primary key or replica identity'
          : 'name the tables with --table (or every table with --all-tables)',
    needed: !facts?.publicationExists,
    apply: true,
    run: async () => ((await ensure()).publication ? pubSql : ''),
  });

  const walReady = facts?.walLevel === 'logical';
  steps.push({
    section: 3,
    sql: slotSql,
    note: facts?.slotExists
      ? `slot ${slot} exists`
      : facts && !walReady
        ? 'after the restart (needs wal_level = logical)'
        : '',
    needed: !facts?.slotExists,
    apply: true,
    run: async () => ((await ensure()).slot ? slotSql : ''),
  });

  const database = facts?.database ?? '<database>';
  const roleSql = [
    `CREATE ROLE ${quoteIdent(role)} WITH LOGIN REPLICATION PASSWORD 'change-me';`,
    `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)};`,
  ].join('\n');
  steps.push({
    section: 4,
    sql: roleSql,
    note: facts?.roleExists
      ? `role ${role} exists`
      : input.roleGiven
        ? ''
        : 'applied only with --role NAME',
    needed: !facts?.roleExists,
    apply: input.roleGiven,
    skip: 'pass --role NAME to create it',
    run: async () => {
      await client!.query(`CREATE ROLE ${quoteIdent(role)} WITH LOGIN REPLICATION`);
      await client!.query(
        `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`,
      );
      return `CREATE ROLE ${quoteIdent(role)} WITH LOGIN REPLICATION; GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}; -- now set its password: ALTER ROLE ${quoteIdent(role)} PASSWORD '...';`;
    },
  });
  return steps;
}

/** What @koyo/slot's setup gets for the tables: the list, `'*'` (--all-tables), or nothing (use the existing publication). */
export function tablesSpec(
  tables: readonly { schema: string | null; name: string }[],
  allTables: boolean,
): { tables?: { schema: string | null; name: string }[] | '*' } {
  if (tables.length > 0) return { tables: [...tables] };
  return allTables ? { tables: '*' } : {};
}
