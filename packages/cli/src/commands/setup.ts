import { createSlotManager, type QualifiedTable, type SetupProblem } from '@koyo/slot';
import pg from 'pg';
import { flagValue, listValue, stringValue, type ParsedArgs } from '../args.js';
import {
  commandContext,
  plainClientConfig,
  publicationName,
  resolveConnection,
  slotName,
  type CliIo,
  type ResolvedConnection,
} from '../context.js';
import { EXIT, KoyoCliError } from '../errors.js';
import { parseTable, quoteIdent, quoteLiteral, quoteTableRef } from '../sql.js';
import { setupSpec } from '../specs.js';
import { resolveTableNames } from '../tables.js';

/** What `koyo setup` learnt from the server (absent without a connection). */
interface Facts {
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

/** One step of the plan: the SQL, whether it is needed, and whether `--apply` runs it. */
interface Step {
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

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MIN_SLOTS = 10;
const MIN_SENDERS = 10;

async function readFacts(
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

const SECTIONS: Record<number, string> = {
  1: 'Server settings (as a superuser). wal_level and the max_* settings take effect after a restart.',
  2: 'The publication: which tables are streamed. Run as the owner of the tables.',
  3: 'The replication slot. koyo run creates it too; creating it now keeps every change from now on.',
  4: 'A least-privilege role for koyo: LOGIN and REPLICATION, no table privileges, no superuser.',
};

/** `koyo setup`: prints the SQL PostgreSQL needs for koyo; `--apply` runs what SQL can do. */
export async function setupCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(setupSpec, args, io);
  const apply = flagValue(args, 'apply');
  const slot = slotName(ctx) ?? 'koyo';
  const publication = publicationName(ctx) ?? slot;
  const flagTables = listValue(args, 'table');
  const allTables =
    flagValue(args, 'all-tables') || (flagTables.length === 0 && ctx.config.tables === '*');
  if (allTables && flagTables.length > 0) {
    throw new KoyoCliError(
      'USAGE',
      '--all-tables and --table exclude each other: publish every table, or the tables listed',
      { command: setupSpec.name },
    );
  }
  const configTables = ctx.config.tables === '*' ? [] : (ctx.config.tables ?? []);
  const refs = (flagTables.length > 0 ? flagTables : configTables).map((table) =>
    parseTable(table, flagTables.length > 0 ? setupSpec.name : undefined),
  );
  const roleFlag = stringValue(args, 'role');
  if (roleFlag !== undefined && !ROLE_NAME.test(roleFlag)) {
    throw new KoyoCliError(
      'USAGE',
      `--role must be 1-63 characters of a-z, 0-9 and _, starting with a letter or _ (got "${roleFlag}")`,
      { command: setupSpec.name },
    );
  }
  const role = roleFlag ?? 'koyo';

  let conn: ResolvedConnection | undefined;
  try {
    conn = resolveConnection(ctx);
  } catch (error) {
    if (apply || !(error instanceof KoyoCliError && error.code === 'NO_CONNECTION')) throw error;
  }

  const client = conn ? new pg.Client(plainClientConfig(conn.connection)) : undefined;
  client?.on('error', () => undefined);
  try {
    await client?.connect();
    const facts = client ? await readFacts(client, publication, slot, role) : undefined;
    // Unqualified names mean what PostgreSQL makes of them on this connection's search_path.
    const tables: (QualifiedTable | ReturnType<typeof parseTable>)[] = client
      ? await resolveTableNames(client, refs)
      : refs;
    const steps = plan({
      facts,
      slot,
      publication,
      tables,
      allTables,
      role,
      roleGiven: roleFlag !== undefined,
      client,
      conn,
    });
    const header = conn
      ? `-- koyo setup for ${conn.display} (slot ${slot}, publication ${publication})`
      : `-- koyo setup (no connection: showing every statement; pass --url or set DATABASE_URL to check the server)`;
    io.stdout.write(`${header}\n`);
    let section = 0;
    for (const step of steps) {
      if (step.section !== section) {
        section = step.section;
        io.stdout.write(`\n-- ${section}. ${SECTIONS[section]}\n`);
      }
      io.stdout.write(
        step.needed
          ? `${step.sql}${step.note ? `  -- ${step.note}` : ''}\n`
          : `-- ok: ${step.note}\n`,
      );
    }
    const needed = steps.filter((step) => step.needed);
    if (!apply) {
      io.stdout.write(
        needed.length === 0
          ? '\nNothing to do: the server is ready. koyo doctor checks the rest.\n'
          : `\n${needed.length} statement${needed.length === 1 ? '' : 's'} to run. koyo setup --apply runs what it can (the role only with --role).\n`,
      );
      return EXIT.OK;
    }
    // Every precondition is checked before anything runs: a refused setup changes nothing.
    const settingsFirst = needed.some((step) => step.section === 1 && step.apply && step.run);
    const problems = await applyProblems(conn!, {
      publication,
      slot,
      tables,
      allTables,
      settingsFirst,
      roleStep: needed.find((step) => step.section === 4 && step.apply),
      facts: facts!,
    });
    if (problems.length > 0) {
      io.stdout.write(
        `\nNot applied: ${problems.length} problem${problems.length === 1 ? '' : 's'} must be fixed first; nothing was changed.\n`,
      );
      for (const problem of problems)
        io.stdout.write(
          `  ✗ ${problem.message}${problem.fix ? `\n    fix: ${problem.fix}` : ''}\n`,
        );
      return EXIT.FAILURE;
    }
    io.stdout.write('\nApplying:\n');
    let restart = false;
    for (const step of needed) {
      if (settingsFirst && (step.section === 2 || step.section === 3)) {
        io.stdout.write(
          `  - skipped: ${step.sql.split('\n')[0]!}  (after the restart: run koyo setup --apply again)\n`,
        );
        continue;
      }
      if (!step.apply || !step.run) {
        io.stdout.write(
          `  - skipped: ${step.sql.split('\n')[0]!.replace(/^-- /, '')}  (${step.skip ?? 'printed only'})\n`,
        );
        continue;
      }
      const result = await step.run();
      if (step.section === 1) restart = true;
      if (result !== '') io.stdout.write(`  ✓ ${result}\n`);
    }
    if (restart) {
      await client!.query('SELECT pg_reload_conf()');
      io.stdout.write(
        '  ✓ SELECT pg_reload_conf()\n\nRestart PostgreSQL for wal_level and the max_* settings to take effect, then run koyo doctor.\n',
      );
    } else {
      io.stdout.write('\nDone. koyo doctor checks the result.\n');
    }
    return EXIT.OK;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/**
 * What stops `--apply`: @koyo/slot's `checkSetup` (wal_level, REPLICATION, tables, ownership,
 * slot limits, an existing slot that does not fit), and the right to create the role. When server
 * settings are applied first, wal_level and slot limits wait for the restart they need.
 */
async function applyProblems(
  conn: ResolvedConnection,
  input: {
    publication: string;
    slot: string;
    tables: readonly { schema: string | null; name: string }[];
    allTables: boolean;
    settingsFirst: boolean;
    roleStep: Step | undefined;
    facts: Facts;
  },
): Promise<SetupProblem[]> {
  const manager = createSlotManager(conn.connection);
  try {
    const check = await manager.checkSetup({
      publication: input.publication,
      slot: input.slot,
      ...tablesSpec(input.tables, input.allTables),
    });
    const problems = check.problems.filter(
      (problem) =>
        !(input.settingsFirst && (problem.code === 'WAL_LEVEL' || problem.code === 'SLOT_LIMIT')),
    );
    if (input.roleStep && !input.facts.superuser && !input.facts.createRole) {
      problems.push({
        code: 'PERMISSION_DENIED',
        message: `Role "${input.facts.user}" cannot create roles (it has neither CREATEROLE nor superuser).`,
        fix: 'Run koyo setup --apply --role as a superuser, or leave out --role.',
      });
    }
    return problems;
  } finally {
    await manager.close();
  }
}

interface PlanInput {
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

function plan(input: PlanInput): Step[] {
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
  const slots = Math.max(MIN_SLOTS, facts?.maxSlots ?? 0);
  setting(
    'max_replication_slots',
    `ALTER SYSTEM SET max_replication_slots = ${slots};`,
    facts === undefined || facts.maxSlots < MIN_SLOTS,
    String(facts?.maxSlots ?? ''),
  );
  const senders = Math.max(MIN_SENDERS, facts?.maxSenders ?? 0);
  setting(
    'max_wal_senders',
    `ALTER SYSTEM SET max_wal_senders = ${senders};`,
    facts === undefined || facts.maxSenders < MIN_SENDERS,
    String(facts?.maxSenders ?? ''),
  );
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
function tablesSpec(
  tables: readonly { schema: string | null; name: string }[],
  allTables: boolean,
): { tables?: { schema: string | null; name: string }[] | '*' } {
  if (tables.length > 0) return { tables: [...tables] };
  return allTables ? { tables: '*' } : {};
}
