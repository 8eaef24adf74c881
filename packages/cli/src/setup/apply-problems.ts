import { createSlotManager, type SetupProblem } from '@koyo/slot';
import type { ResolvedConnection } from '../context.js';
import type { Facts } from './facts.js';
import { tablesSpec, type Step } from './plan.js';

/**
 * What stops `--apply`: @koyo/slot's `checkSetup` (wal_level, REPLICATION, tables, ownership,
 * slot limits, an existing slot that does not fit), and the right to create the role. When server
 * settings are applied first, wal_level and slot limits wait for the restart they need.
 */
export async function applyProblems(
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
