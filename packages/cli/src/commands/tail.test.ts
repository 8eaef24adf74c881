import { UNCHANGED_TOAST, type PgoutputMessage, type RelationMessage } from '@koyo/pgoutput';
import { describe, expect, it } from 'vitest';
import { TailAssembler, formatChangeLine } from './tail.js';

const users: RelationMessage = {
  tag: 'relation',
  oid: 1,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true, flags: 1 },
    { name: 'bio', typeOid: 25, typeMod: -1, isKey: false, flags: 0 },
  ],
};
const other: RelationMessage = { ...users, oid: 2, name: 'other' };
const when = new Date('2026-01-01T00:00:00Z');
const begin = (lsn: bigint): PgoutputMessage => ({
  tag: 'begin',
  finalLsn: lsn,
  commitTime: when,
  commitTimeMicros: 0n,
  xid: 7,
});
const commit = (lsn: bigint): PgoutputMessage => ({
  tag: 'commit',
  flags: 0,
  commitLsn: lsn,
  endLsn: lsn + 8n,
  commitTime: when,
  commitTimeMicros: 0n,
});

describe('TailAssembler', () => {
  it('builds Change-shaped lines with key, position and unchanged TOAST columns', () => {
    const tail = new TailAssembler([]);
    const out = [
      begin(0x100n),
      { tag: 'insert', relation: users, new: { id: 1, bio: 'x' } },
      {
        tag: 'update',
        relation: users,
        key: null,
        old: null,
        new: { id: 1, bio: UNCHANGED_TOAST },
      },
      { tag: 'delete', relation: users, key: { id: 1 }, old: null },
      { tag: 'truncate', relations: [users, other], cascade: false, restartIdentity: false },
      commit(0x100n),
    ].flatMap((message) => tail.handle(message as PgoutputMessage));
    expect(out.map((change) => [change.kind, change.table, change.position, change.key])).toEqual([
      ['insert', 'users', 0, { id: 1 }],
      ['update', 'users', 1, { id: 1 }],
      ['delete', 'users', 2, { id: 1 }],
      ['truncate', 'users', 3, null],
      ['truncate', 'other', 4, null],
    ]);
    expect(out[1]).toMatchObject({
      new: { id: 1 },
      unchanged: ['bio'],
      commitLsn: '0/100',
      xid: 7,
      commitTime: '2026-01-01T00:00:00.000Z',
    });
    expect(formatChangeLine(out[1]!)).toBe(
      '0/100 update public.users {"id":1} (unchanged toast: bio)',
    );
    expect(formatChangeLine(out[2]!)).toBe('0/100 delete public.users {"id":1}');
  });

  it('filters by table and skips transactions already shown (for --peek)', () => {
    const tail = new TailAssembler([{ schema: other.schema, name: other.name }]);
    const txn = (lsn: bigint): PgoutputMessage[] => [
      begin(lsn),
      { tag: 'insert', relation: users, new: { id: 1 } },
      { tag: 'insert', relation: other, new: { id: 2 } },
      commit(lsn),
    ];
    const first = txn(0x200n).flatMap((message) => tail.handle(message));
    expect(first.map((change) => [change.table, change.position])).toEqual([['other', 1]]);
    expect(txn(0x200n).flatMap((message) => tail.handle(message))).toEqual([]);
    expect(txn(0x300n).flatMap((message) => tail.handle(message))).toHaveLength(1);
  });
});
