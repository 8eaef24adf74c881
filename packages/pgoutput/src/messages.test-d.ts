// Compile-time checks that the two-phase message types keep their fields (run by
// `pnpm typecheck`, never executed).
import { expectTypeOf } from 'vitest';
import type { PrepareMessage, StreamPrepareMessage } from './index.js';

interface PreparedFields {
  flags: number;
  prepareLsn: bigint;
  endLsn: bigint;
  prepareTime: Date;
  prepareTimeMicros: bigint;
  xid: number;
  gid: string;
}

/** The type's own fields, as one object type. */
type Fields<T> = { [K in keyof T]: T[K] };

expectTypeOf<Fields<PrepareMessage>>().toEqualTypeOf<Fields<PreparedFields & { tag: 'prepare' }>>();
expectTypeOf<Fields<StreamPrepareMessage>>().toEqualTypeOf<
  Fields<PreparedFields & { tag: 'stream_prepare' }>
>();
