// Compile-time checks of onTable's row types (run by `pnpm typecheck`, never executed).
import type { Change } from '@koyo/dispatcher';
import type { Knex } from 'knex';
import { onTable, type ChangeSource } from './index.js';

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
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
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
