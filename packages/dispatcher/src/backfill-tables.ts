import type { QualifiedTable } from '@koyo/slot';
import type { Backend } from './_backend.js';
import { KoyoDispatcherError } from './errors.js';
import { parseTable, type HandlerRegistry } from './registry.js';

/** Every dispatched table: the `tables` option (resolved at start), or the publication's tables. */
export async function dispatchedTables(
  registry: HandlerRegistry,
  backend: Backend,
): Promise<QualifiedTable[]> {
  const filter = registry.tables as readonly QualifiedTable[] | null;
  return filter ? [...filter] : backend.backfill.publicationTables();
}

/**
 * The tables `backfill(tables)` means: the names resolved like PostgreSQL resolves them, each
 * a dispatched table (`INVALID_OPTION` otherwise: its rows would reach no handler); default
 * every dispatched table.
 */
export async function backfillTables(
  tables: string | string[] | undefined,
  registry: HandlerRegistry,
  backend: Backend,
): Promise<QualifiedTable[]> {
  if (tables === undefined) return dispatchedTables(registry, backend);
  const refs = (Array.isArray(tables) ? tables : [tables]).map((name) => parseTable(name));
  const resolved = await backend.resolveTables(refs);
  const dispatched = registry.tables;
  for (const table of resolved) {
    if (dispatched && !dispatched.some((d) => d.schema === table.schema && d.name === table.name))
      throw new KoyoDispatcherError(
        'INVALID_OPTION',
        `backfill(${JSON.stringify(`${table.schema}.${table.name}`)}): the table is outside the dispatcher's \`tables\` option; its rows would reach no handler.`,
      );
  }
  return resolved;
}

/** Dispatched tables whose backfill is owed (initial) or unfinished (interrupted), in order. */
export async function owedTables(
  registry: HandlerRegistry,
  backend: Backend,
): Promise<QualifiedTable[]> {
  const dispatched = await dispatchedTables(registry, backend);
  const owed = await backend.backfill.unfinished(async () => dispatched);
  return owed.filter((t) => dispatched.some((d) => d.schema === t.schema && d.name === t.name));
}

/** `app.users,public.orders` (qualified, as resolved), or `ALL`: for the log. */
export function tablesLabel(
  tables: readonly { schema: string | null; name: string }[] | null,
): string {
  return tables ? tables.map((t) => `${t.schema ?? ''}.${t.name}`).join(',') : 'ALL';
}
