import { advisoryLocksHeld, createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, SCHEMA } from '../../router/test/_corpus.js';
import { explain, type RoutedKnex } from '../src/index.js';
import { P, queryUrl, recorder, routedOn, waitForReplay } from './_helpers.js';

let db: TestDatabase;
let knex: RoutedKnex;
const rec = recorder();
const ports = new Map<string, number>();

beforeAll(async () => {
  db = await createTestDatabase('knex_corpus');
  await queryUrl(db.url, SCHEMA);
  await waitForReplay(db.url, db.replicaUrls);
  knex = routedOn(db, { logger: rec.logger });
  ports.set('primary', db.cluster.primary.port);
  db.cluster.replicas.forEach((r, i) => ports.set(`replica${i + 1}`, r.port));
});
afterAll(async () => {
  await knex?.destroy();
  await db?.drop();
});

function rowsOf(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result)) {
    const last = result.at(-1) as unknown;
    if (last !== null && typeof last === 'object' && 'rows' in last)
      return (last as { rows: Record<string, unknown>[] }).rows;
    return result as Record<string, unknown>[];
  }
  if (result !== null && typeof result === 'object' && 'rows' in result)
    return (result as { rows: Record<string, unknown>[] }).rows;
  return result === undefined ? [] : [result as Record<string, unknown>];
}

describe('the router corpus through knex.raw', () => {
  it('runs every read on a standby and every write on the primary', async () => {
    const base = 3000;
    let reads = 0;
    let writes = 0;
    for (const entry of corpus(base)) {
      const label = `knex.raw: ${entry.sql}`;
      const d = explain(knex, entry.sql);
      expect(d.classification.role, label).toBe(entry.role);
      expect(d.target, label).toBe(entry.role === 'read' ? 'replica' : 'primary');
      rec.clear();
      let rows: Record<string, unknown>[] = [];
      try {
        if (entry.tx)
          await knex.transaction(() => knex.raw(entry.sql)); // the outer instance, inside a transaction
        else rows = rowsOf(await knex.raw(entry.sql));
      } catch (error) {
        throw new Error(`${label} failed: ${(error as Error).message}`);
      }
      const logged = rec.queries().filter((e) => e.sql === entry.sql);
      expect(logged.length, label).toBe(1);
      expect(logged[0]!.event, label).toBe('query');
      expect(logged[0]!.role, label).toBe(
        entry.role === 'read' && !entry.tx ? 'replica' : 'primary',
      );
      if (entry.tx) expect(logged[0]!.reason, label).toBe('in-transaction');
      if (entry.proves) {
        const row = rows[0]!;
        expect(row, label).toBeDefined();
        expect(row.r, label).toBe(entry.role === 'read');
        expect(row.port, label).toBe(ports.get(logged[0]!.node));
      }
      if (entry.sql.includes(`pg_advisory_lock(${base})`)) {
        // Held on the primary only.
        const held = await advisoryLocksHeld([db.url, ...db.replicaUrls], base);
        expect(held, label).toEqual([1, ...db.replicaUrls.map(() => 0)]);
      }
      if (entry.role === 'read') reads++;
      else writes++;
    }
    expect(reads).toBeGreaterThanOrEqual(40);
    expect(writes).toBeGreaterThanOrEqual(40);
    expect(knex.router.stats().retries).toBe(0);
  });
});

interface BuilderCase {
  readonly name: string;
  readonly role: 'read' | 'write';
  readonly build: (k: Knex) => Knex.QueryBuilder | Knex.SchemaBuilder | Knex.Raw;
  /** Returns rows with the proof columns. */
  readonly proves?: boolean;
}

const B = 5000;
const builders: BuilderCase[] = [
  { name: 'select without table', role: 'read', proves: true, build: (k) => k.select(k.raw(P)) },
  {
    name: 'select where',
    role: 'read',
    proves: true,
    build: (k) => k('items').select(k.raw(P), 'note').where({ id: 1 }),
  },
  {
    name: 'first',
    role: 'read',
    proves: true,
    build: (k) => k('items').first(k.raw(P)).where('id', 2),
  },
  {
    name: 'count',
    role: 'read',
    proves: true,
    build: (k) => k('items').count('* as n').select(k.raw(P)),
  },
  {
    name: 'max',
    role: 'read',
    proves: true,
    build: (k) => k('items').max('id as m').select(k.raw(P)),
  },
  { name: 'pluck', role: 'read', build: (k) => k.from(k.raw(`(SELECT ${P}) s`)).pluck('port') },
  {
    name: 'join + whereIn subquery',
    role: 'read',
    proves: true,
    build: (k) =>
      k('items as a')
        .join('items as b', 'a.id', 'b.id')
        .select(k.raw(P))
        .whereIn('a.id', k('items').select('id').where('id', '<', 3)),
  },
  {
    name: 'read CTE',
    role: 'read',
    proves: true,
    build: (k) => k.with('x', k('items').select('id')).select(k.raw(P)).from('x').limit(1),
  },
  {
    name: 'union',
    role: 'read',
    proves: true,
    build: (k) => k.select(k.raw(P)).union(k.select(k.raw(P))),
  },
  {
    name: 'select calling nextval()',
    role: 'write',
    proves: true,
    build: (k) => k.select(k.raw(`${P}, nextval('seq') AS v`)),
  },
  // The four row locks: each makes a read a write.
  ...(
    [
      ['forUpdate', 1],
      ['forShare', 1],
      ['forNoKeyUpdate', 2],
      ['forKeyShare', 2],
    ] as const
  ).map(([lock, id]): BuilderCase => ({
    name: lock,
    role: 'write',
    proves: true,
    build: (k) => k('items').select(k.raw(P)).where({ id })[lock](),
  })),
  {
    name: 'forUpdate skipLocked',
    role: 'write',
    proves: true,
    build: (k) => k('items').select(k.raw(P)).orderBy('id').limit(1).forUpdate().skipLocked(),
  },
  {
    name: 'forUpdate noWait',
    role: 'write',
    proves: true,
    build: (k) => k('items').first(k.raw(P)).where({ id: 3 }).forUpdate().noWait(),
  },
  {
    name: 'insert',
    role: 'write',
    proves: true,
    build: (k) =>
      k('items')
        .insert({ id: B + 1, note: 'i' })
        .returning(k.raw(P)),
  },
  {
    name: 'insert many',
    role: 'write',
    build: (k) =>
      k('items').insert([
        { id: B + 2, note: 'a' },
        { id: B + 3, note: 'b' },
      ]),
  },
  {
    name: 'update',
    role: 'write',
    proves: true,
    build: (k) =>
      k('items')
        .update({ note: 'u' })
        .where({ id: B + 1 })
        .returning(k.raw(P)),
  },
  {
    name: 'increment',
    role: 'write',
    build: (k) =>
      k('items')
        .where({ id: B + 1 })
        .increment('update', 2),
  },
  {
    name: 'upsert (onConflict merge)',
    role: 'write',
    proves: true,
    build: (k) =>
      k('items')
        .insert({ id: B + 1, note: 'm' })
        .onConflict('id')
        .merge()
        .returning(k.raw(P)),
  },
  {
    name: 'insert onConflict ignore',
    role: 'write',
    build: (k) =>
      k('items')
        .insert({ id: B + 1, note: 'x' })
        .onConflict('id')
        .ignore(),
  },
  {
    name: 'del',
    role: 'write',
    proves: true,
    build: (k) =>
      k('items')
        .where({ id: B + 3 })
        .del()
        .returning(k.raw(P)),
  },
  {
    name: 'CTE with insert',
    role: 'write',
    proves: true,
    build: (k) =>
      k
        .with(
          'ins',
          k('items')
            .insert({ id: B + 5, note: 'c' })
            .returning('id'),
        )
        .select(k.raw(P))
        .from('ins'),
  },
  {
    name: 'CTE with update',
    role: 'write',
    proves: true,
    build: (k) =>
      k
        .with(
          'upd',
          k('items')
            .update({ note: 'd' })
            .where({ id: B + 5 })
            .returning('id'),
        )
        .select(k.raw(P))
        .from('upd'),
  },
  {
    name: 'CTE with delete',
    role: 'write',
    proves: true,
    build: (k) =>
      k
        .with(
          'del',
          k('items')
            .where({ id: B + 5 })
            .del()
            .returning('id'),
        )
        .select(k.raw(P))
        .from('del'),
  },
  {
    name: 'insert from select',
    role: 'write',
    build: (k) => k('scratch').insert(k('items').select('id', 'note').where({ id: 1 })),
  },
  { name: 'truncate', role: 'write', build: (k) => k('scratch').truncate() },
  {
    name: 'schema createTable',
    role: 'write',
    build: (k) =>
      k.schema.createTable(`kt_${B}`, (t) => {
        t.increments('id');
        t.string('name').notNullable().comment('a name');
        t.index(['name']);
      }),
  },
  {
    name: 'schema hasTable right after createTable',
    role: 'write',
    build: (k) => k.schema.hasTable(`kt_${B}`) as unknown as Knex.SchemaBuilder,
  },
  {
    name: 'schema hasColumn',
    role: 'write',
    build: (k) => k.schema.hasColumn(`kt_${B}`, 'name') as unknown as Knex.SchemaBuilder,
  },
  {
    name: 'schema alterTable',
    role: 'write',
    build: (k) =>
      k.schema.alterTable(`kt_${B}`, (t) => {
        t.integer('age');
      }),
  },
  {
    name: 'schema createView',
    role: 'write',
    build: (k) =>
      k.schema.createView(`kv_${B}`, (v) => {
        v.as(k('items').select('id'));
      }),
  },
  {
    name: 'schema raw',
    role: 'write',
    build: (k) => k.schema.raw(`COMMENT ON TABLE kt_${B} IS 'x'`),
  },
  {
    name: 'schema dropTable',
    role: 'write',
    build: (k) => k.schema.dropView(`kv_${B}`).dropTable(`kt_${B}`),
  },
];

describe('query and schema builders', () => {
  it.each(builders.map((b) => [b.name, b] as const))('%s', async (_name, c) => {
    const builder = c.build(knex);
    const d = explain(knex, builder);
    expect(d.target).toBe(c.role === 'read' ? 'replica' : 'primary');
    rec.clear();
    const result: unknown = await builder;
    const logged = rec.queries();
    expect(logged.length).toBeGreaterThan(0);
    for (const entry of logged) {
      expect(entry.event).toBe('query');
      expect(entry.role, entry.sql).toBe(c.role === 'read' ? 'replica' : 'primary');
    }
    if (c.role === 'read' && c.name === 'pluck') {
      expect(result).toEqual([ports.get(logged[0]!.node)]);
    }
    if (c.proves) {
      const row = rowsOf(result)[0]!;
      expect(row).toBeDefined();
      expect(row.r).toBe(c.role === 'read');
      expect(row.port).toBe(ports.get(logged[0]!.node));
    }
    if (c.name === 'schema hasTable right after createTable' || c.name === 'schema hasColumn')
      expect(result).toBe(true);
  });

  it('leaves the rows written by builders on the primary', async () => {
    const rows = await queryUrl<{ id: number; note: string; update: number }>(
      db.url,
      `SELECT id, note, "update" FROM items WHERE id > ${B} ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: B + 1, note: 'm', update: 2 },
      { id: B + 2, note: 'a', update: 0 },
    ]);
  });
});
