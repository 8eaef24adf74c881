// Compile-time checks of what koyo.handlers.ts files get (run by `pnpm typecheck`, never executed).
import { expectTypeOf } from 'vitest';
import { defineHandlers, type InsertChange, type UpdateChange } from './index.js';

interface User {
  id: number;
  email: string;
}

defineHandlers((koyo, { logger }) => {
  koyo.onTable('users', {
    insert: (change) => {
      expectTypeOf(change).toEqualTypeOf<InsertChange>();
      expectTypeOf(change.new).toEqualTypeOf<Record<string, unknown>>();
      logger.info({ email: change.new.email }, 'inserted');
    },
    delete: (change) => {
      expectTypeOf(change.new).toEqualTypeOf<null>();
    },
  });
  koyo.onTable<User>('users', {
    update: (change) => {
      expectTypeOf(change).toEqualTypeOf<UpdateChange<User>>();
      logger.info({ from: change.old?.email, to: change.new.email }, 'updated');
    },
  });
  koyo.onChange((change) => {
    if (change.kind === 'insert') expectTypeOf(change.new).not.toBeNullable();
  });
});
