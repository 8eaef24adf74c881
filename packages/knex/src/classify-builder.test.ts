import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyBuilder } from './classify-builder.js';

// A Knex without a connection: builders compile, nothing runs.
const k = knexFactory({ client: 'pg' });
afterAll(async () => {
  await k.destroy();
});

describe('classifyBuilder', () => {
  it.each([
    ['select', k('users').select('*'), 'read', 'builder:select'],
    ['first', k('users').first(), 'read', 'builder:first'],
    ['pluck', k('users').pluck('id'), 'read', 'builder:pluck'],
    ['count', k('users').count(), 'read', 'builder:select'],
    ['columnInfo', k('users').columnInfo(), 'read', 'builder:columnInfo'],
    [
      'read CTE',
      k.with('x', k('users').select('id')).select('*').from('x'),
      'read',
      'builder:select',
    ],
    ['forUpdate', k('users').select('*').forUpdate(), 'write', 'builder:forUpdate'],
    ['forShare', k('users').first().forShare(), 'write', 'builder:forShare'],
    ['forNoKeyUpdate', k('users').select('*').forNoKeyUpdate(), 'write', 'builder:forNoKeyUpdate'],
    ['forKeyShare', k('users').select('*').forKeyShare(), 'write', 'builder:forKeyShare'],
    ['skipLocked', k('jobs').select('*').forUpdate().skipLocked(), 'write', 'builder:forUpdate'],
    ['insert', k('users').insert({ id: 1 }), 'write', 'builder:insert'],
    [
      'upsert-style insert',
      k('users').insert({ id: 1 }).onConflict('id').merge(),
      'write',
      'builder:insert',
    ],
    ['update', k('users').update({ name: 'x' }), 'write', 'builder:update'],
    ['increment', k('users').increment('n', 1), 'write', 'builder:update'],
    ['del', k('users').where({ id: 1 }).del(), 'write', 'builder:del'],
    ['truncate', k('users').truncate(), 'write', 'builder:truncate'],
    [
      'CTE with insert',
      k
        .with('i', k('users').insert({ id: 1 }).returning('id'))
        .select('*')
        .from('i'),
      'write',
      'builder:with-insert',
    ],
    [
      'CTE with a locking read',
      k.with('l', k('users').select('id').forUpdate()).select('*').from('l'),
      'write',
      'builder:with-forUpdate',
    ],
    ['schema hasTable', k.schema.hasTable('users'), 'write', 'builder:schema'],
    [
      'schema createTable',
      k.schema.createTable('t', (t) => t.increments()),
      'write',
      'builder:schema',
    ],
  ] as const)('%s', (_name, builder, role, reason) => {
    expect(classifyBuilder(builder)).toEqual({ role, reason });
  });

  it('leaves raw SQL and non-builders to the SQL classifier', () => {
    expect(classifyBuilder(k.raw('SELECT 1'))).toBeUndefined();
    expect(classifyBuilder('SELECT 1')).toBeUndefined();
    expect(classifyBuilder(null)).toBeUndefined();
    expect(classifyBuilder({})).toBeUndefined();
  });
});
