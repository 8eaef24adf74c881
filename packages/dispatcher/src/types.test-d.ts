// Compile-time checks that `Change` narrows on `kind` (run by `pnpm typecheck`, never executed).
import { expectTypeOf } from 'vitest';
import type {
  Change,
  ChangeKind,
  DeleteChange,
  Dispatcher,
  InsertChange,
  SnapshotChange,
  TableHandlers,
  TruncateChange,
  UpdateChange,
} from './index.js';

interface User {
  id: number;
  email: string;
}
declare const dispatcher: Dispatcher;
declare const mailer: { welcome(email: string): Promise<void> };

expectTypeOf<ChangeKind>().toEqualTypeOf<
  'insert' | 'update' | 'delete' | 'truncate' | 'snapshot'
>();
expectTypeOf<Change<User>>().toEqualTypeOf<
  | InsertChange<User>
  | UpdateChange<User>
  | DeleteChange<User>
  | TruncateChange<User>
  | SnapshotChange<User>
>();

// Narrowing a change of any kind.
dispatcher.onTable<User>('users', (change) => {
  if (change.kind === 'insert') {
    expectTypeOf(change.new).toEqualTypeOf<User>();
    expectTypeOf(change.old).toEqualTypeOf<null>();
    void mailer.welcome(change.new.email);
  } else if (change.kind === 'update') {
    expectTypeOf(change.new).toEqualTypeOf<User>();
    expectTypeOf(change.old).toEqualTypeOf<Partial<User> | null>();
  } else if (change.kind === 'delete') {
    expectTypeOf(change.new).toEqualTypeOf<null>();
    expectTypeOf(change.old).toEqualTypeOf<Partial<User> | null>();
  } else if (change.kind === 'snapshot') {
    expectTypeOf(change.new).toEqualTypeOf<User>();
    expectTypeOf(change.old).toEqualTypeOf<null>();
  } else {
    expectTypeOf(change).toEqualTypeOf<TruncateChange<User>>();
    expectTypeOf(change.key).toEqualTypeOf<null>();
  }
});

// Object-form handlers get their kind's change.
dispatcher.onTable<User>('users', {
  insert: (change) => mailer.welcome(change.new.email),
  update: (change) => {
    expectTypeOf(change).toEqualTypeOf<UpdateChange<User>>();
    expectTypeOf(change.new.email).toEqualTypeOf<string>();
  },
  delete: (change) => {
    expectTypeOf(change).toEqualTypeOf<DeleteChange<User>>();
  },
  truncate: (change) => {
    expectTypeOf(change).toEqualTypeOf<TruncateChange<User>>();
  },
  snapshot: (change) => {
    expectTypeOf(change).toEqualTypeOf<SnapshotChange<User>>();
    expectTypeOf(change.new.email).toEqualTypeOf<string>();
  },
});

// A catch-all handler narrows in a switch (the README's first example).
dispatcher.onChange((change) => {
  switch (change.kind) {
    case 'insert':
      expectTypeOf(change.new).toEqualTypeOf<Record<string, unknown>>();
      break;
    case 'delete':
      expectTypeOf(change.new).toBeNull();
      break;
  }
});

// A handler object typed on its own keeps the per-kind types.
const handlers: TableHandlers<User> = { insert: (change) => mailer.welcome(change.new.email) };
dispatcher.onTable<User>('users', handlers);
