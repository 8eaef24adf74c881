import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { KoyoKnexError } from './errors.js';
import { explain, routedKnex, routerOf } from './routed-knex.js';

// Nothing here connects: explain() and the options are checked without a server.
const nowhere = 'postgres://koyo@127.0.0.1:1/none';
const knex = routedKnex({
  primary: { client: 'pg', connection: nowhere },
  replicas: [nowhere, { connection: nowhere, name: 'r2', weight: 2 }],
});
const plain = knexFactory({ client: 'pg' });
afterAll(async () => {
  await knex.destroy();
  await plain.destroy();
});

describe('routedKnex', () => {
  it('is a real Knex instance with a pg client', () => {
    expect(typeof knex).toBe('function');
    expect(knex.client).toBeInstanceOf(knexFactory.Client);
    expect(knex.client.config.client).toBe('pg');
    expect(knex.client.dialect).toBe('postgresql');
    expect(knex.router.replicaNames).toEqual(['replica1', 'r2']);
    expect(knex.replicas).toHaveLength(2);
    expect(routerOf(knex)).toBe(knex.router);
    expect(routerOf(plain)).toBeUndefined();
  });

  it('explains builders and SQL', () => {
    expect(explain(knex, knex('users').where({ id: 1 }).first())).toMatchObject({
      target: 'replica',
      reason: 'classified:SELECT',
    });
    expect(explain(knex, knex('users').select('*').forUpdate())).toMatchObject({
      target: 'primary',
      reason: 'classified:FOR UPDATE',
    });
    expect(explain(knex, knex('users').insert({ id: 1 }))).toMatchObject({
      target: 'primary',
      reason: 'classified:INSERT',
    });
    expect(
      explain(knex, knex.schema.hasTable('users') as unknown as { toSQL(): unknown }),
    ).toMatchObject({ target: 'primary', reason: 'builder:schema' });
    expect(explain(knex, knex.raw("SELECT nextval('s')"))).toMatchObject({
      target: 'primary',
      reason: 'classified:nextval',
    });
    expect(explain(knex, 'SELECT 1')).toMatchObject({ target: 'replica' });
    expect(() => explain(plain, 'SELECT 1')).toThrow(KoyoKnexError);
  });

  it.each([
    [{}, /primary/],
    [{ primary: { client: 'mysql2', connection: nowhere } }, /PostgreSQL only/],
    [{ primary: { client: 'pg' } }, /connection: required/],
    [{ primary: '' }, /empty/],
    [{ primary: nowhere, replicas: 'x' }, /replicas/],
    [{ primary: nowhere, readOnlyTransactions: 'sometimes' }, /readOnlyTransactions/],
    [{ primary: nowhere, replicas: [{ connection: nowhere, name: '' }] }, /name/],
  ])('rejects bad options %#', (options, message) => {
    expect(() => routedKnex(options as never)).toThrow(message);
  });

  it('passes router option errors through', () => {
    expect(() => routedKnex({ primary: nowhere, strategy: 'nearest' as never })).toThrow(
      /strategy/,
    );
  });
});
