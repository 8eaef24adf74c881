// Compile-time checks of onTable's row types (run by `pnpm typecheck`, never executed).
import type { Change } from '@koyo/dispatcher';
import type { Knex } from 'knex';
import { onTable, type ChangeSource } from './changes.js';

interface KoyoTypedExample {
  id: number;
  email: string;
}

declare module 'knex/types/tables.js' {
  interface Tables {
    koyo_typed_example: KoyoTypedExample;
    koyo_composite_example: Knex.CompositeTableType<KoyoTypedExample, { email: string }>;
  }
}

declare const dispatcher: ChangeSource;
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(_value?: T): void => undefined;

onTable(dispatcher, 'koyo_typed_example', (change) => {
  assert<Equals<typeof change, Change<KoyoTypedExample>>>();
  const email: string | undefined = change.new?.email;
  void email;
});
onTable(dispatcher, 'koyo_composite_example', {
  insert: (_change) => {
    assert<Equals<NonNullable<typeof _change.new>, KoyoTypedExample>>();
  },
});
onTable(dispatcher, 'not_declared', (_change) => {
  assert<Equals<typeof _change, Change<Record<string, unknown>>>>();
});
onTable<'anything', { id: string }>(dispatcher, 'anything', (_change) => {
  assert<Equals<typeof _change.new, { id: string } | null>>();
});

// Object-form handlers get their kind's change: `new` is the row after an insert (the README example).
declare const mailer: { welcome(email: string): Promise<void> };
declare const search: { remove(table: string, id: unknown): Promise<void> };
onTable(dispatcher, 'koyo_typed_example', {
  insert: async (change) => {
    assert<Equals<typeof change.new, KoyoTypedExample>>();
    await mailer.welcome(change.new.email);
  },
  update: (_change) => {
    assert<Equals<typeof _change.old, Partial<KoyoTypedExample> | null>>();
    assert<Equals<typeof _change.new, KoyoTypedExample>>();
  },
  delete: async (change) => {
    assert<Equals<typeof change.new, null>>();
    await search.remove('koyo_typed_example', change.id);
  },
});
// A single handler narrows on `kind`.
onTable(dispatcher, 'koyo_typed_example', (change) => {
  if (change.kind === 'insert') assert<Equals<typeof change.new, KoyoTypedExample>>();
  if (change.kind === 'truncate') assert<Equals<typeof change.key, null>>();
});
