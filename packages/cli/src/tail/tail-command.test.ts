import type { CatalogQuery } from '@koyo/dispatcher/assembly';
import { UNCHANGED_TOAST, type PgoutputMessage, type RelationMessage } from '@koyo/pgoutput';
import { describe, expect, it } from 'vitest';
import { TailAssembler, formatChangeLine } from './tail-command.js';

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

  it('takes the dispatcher values: the primary key of a FULL table, unchanged TOAST from the old row', async () => {
    const full: RelationMessage = {
      ...users,
      oid: 3,
      name: 'docs',
      replicaIdentity: 'full',
      columns: users.columns.map((column) => ({ ...column, isKey: true })),
    };
    const update = {
      tag: 'update',
      relation: full,
      key: null,
      old: { id: 1, bio: 'long' },
      new: { id: 1, bio: UNCHANGED_TOAST },
    };
    const lookups: string[] = [];
    const catalog = (async (sql: string) => {
      lookups.push(sql);
      return sql.includes('indisprimary') ? [{ name: 'id' }] : [];
    }) as CatalogQuery;
    const tail = new TailAssembler([], catalog);
    await tail.relation(full);
    expect(lookups).toHaveLength(1);
    const out = [begin(0x400n), update, commit(0x400n)].flatMap((message) =>
      tail.handle(message as PgoutputMessage),
    );
    expect(out).toEqual([
      {
        kind: 'update',
        schema: 'public',
        table: 'docs',
        key: { id: 1 },
        new: { id: 1, bio: 'long' },
        old: { id: 1, bio: 'long' },
        unchanged: ['bio'],
        commitLsn: '0/400',
        position: 0,
        xid: 7,
        commitTime: '2026-01-01T00:00:00.000Z',
      },
    ]);
    // --json prints the fields in this order, without the dispatcher's `id`.
    expect(Object.keys(out[0]!)).toEqual([
      'kind',
      'schema',
      'table',
      'key',
      'new',
      'old',
      'unchanged',
      'commitLsn',
      'position',
      'xid',
      'commitTime',
    ]);
    expect(formatChangeLine(out[0]!)).toBe(
      '0/400 update public.docs {"id":1,"bio":"long"} (old {"id":1,"bio":"long"}) (unchanged toast: bio)',
    );

    // Without the catalog, the key is what pgoutput announces: every column of a FULL table.
    const bare = new TailAssembler([]);
    await bare.relation(full);
    const again = { ...update, new: { id: 1, bio: UNCHANGED_TOAST } };
    const [line] = [begin(0x500n), again, commit(0x500n)].flatMap((message) =>
      bare.handle(message as PgoutputMessage),
    );
    expect(line?.key).toEqual({ id: 1, bio: 'long' });
  });
});
