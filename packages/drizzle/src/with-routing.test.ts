import { is } from 'drizzle-orm';
import { drizzle as drizzlePg, NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDatabase } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { KoyoDrizzleError } from './errors.js';
import { withRouting, type RoutedDatabase } from './with-routing.js';

describe('withRouting (no database needed)', () => {
  it('returns a database of the primary’s class, with the types of the primary', () => {
    const primary = drizzlePg.mock();
    const db = withRouting(primary, []);
    expect(db).toBeInstanceOf(NodePgDatabase);
    expect(is(db, PgDatabase)).toBe(true);
    expectTypeOf(db).toExtend<typeof primary>();
    expectTypeOf(withRouting(primary, [primary])).toEqualTypeOf<RoutedDatabase<typeof primary>>();
    expectTypeOf(db.$primary).toEqualTypeOf<typeof primary>();
    expect(db.$router.primaryName).toBe('primary');
    db.$router.close();
  });

  it('names nodes as told', () => {
    const db = withRouting(drizzlePg.mock(), [drizzlePg.mock(), drizzlePg.mock()], {
      primaryName: 'main',
      replicaNames: ['r-a'],
      probeIntervalMs: 60_000,
    });
    expect([db.$router.primaryName, ...db.$router.replicaNames]).toEqual([
      'main',
      'r-a',
      'replica2',
    ]);
    db.$router.close();
  });

  it('rejects what is not a Drizzle database, and mixed drivers', () => {
    expect(() => withRouting({} as never, [])).toThrow(KoyoDrizzleError);
    expect(() => withRouting(drizzlePg.mock(), {} as never)).toThrow(/must be an array/);
    const mixed = (): unknown => withRouting(drizzlePg.mock(), [drizzlePostgres.mock() as never]);
    expect(mixed).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DRIVER' }) as unknown);
  });

  it('passes router option errors through', () => {
    expect(() => withRouting(drizzlePg.mock(), [], { fallback: 'nowhere' as never })).toThrow(
      /fallback/,
    );
  });
});
