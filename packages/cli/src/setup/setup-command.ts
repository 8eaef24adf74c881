import type { QualifiedTable } from '@koyo/slot';
import { type CommandSpec, flagValue, listValue, type ParsedArgs, stringValue } from '../args.js';
import {
  commandContext,
  publicationName,
  resolveConnection,
  slotName,
  type CliIo,
  type ResolvedConnection,
} from '../context.js';
import { EXIT, KoyoCliError } from '../errors.js';
import { plainClient } from '../pg-client.js';
import { applyProblems } from './apply-problems.js';
import { readFacts } from './facts.js';
import { SECTIONS, plan } from './plan.js';
import { parseTable } from '../sql.js';
import { resolveTableNames } from '../tables.js';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** `koyo setup`: prints the SQL PostgreSQL needs for koyo; `--apply` runs what SQL can do. */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(spec, args, io);
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
      { command: spec.name },
    );
  }
  const configTables = ctx.config.tables === '*' ? [] : (ctx.config.tables ?? []);
  const refs = (flagTables.length > 0 ? flagTables : configTables).map((table) =>
    parseTable(table, flagTables.length > 0 ? spec.name : undefined),
  );
  const roleFlag = stringValue(args, 'role');
  if (roleFlag !== undefined && !ROLE_NAME.test(roleFlag)) {
    throw new KoyoCliError(
      'USAGE',
      `--role must be 1-63 characters of a-z, 0-9 and _, starting with a letter or _ (got "${roleFlag}")`,
      { command: spec.name },
    );
  }
  const role = roleFlag ?? 'koyo';

  let conn: ResolvedConnection | undefined;
  try {
    conn = resolveConnection(ctx);
  } catch (error) {
    if (apply || !(error instanceof KoyoCliError && error.code === 'NO_CONNECTION')) throw error;
  }

  const client = conn ? plainClient(conn.connection) : undefined;
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
