import { describe, expect, it } from 'vitest';
import { DispatcherMetrics } from './metrics.js';
import type { Change } from './types.js';

function change(schema: string, table: string, kind: Change['kind']): Change {
  return { kind, schema, table } as Change;
}

describe('DispatcherMetrics', () => {
  it('counts changes per table when tables alternate (the latest table is remembered)', () => {
    const metrics = new DispatcherMetrics('slot');
    const changes = [
      change('public', 'a', 'snapshot'),
      change('public', 'a', 'snapshot'),
      change('other', 'a', 'insert'),
      change('public', 'b', 'delete'),
      change('public', 'a', 'update'),
    ];
    for (const c of changes) metrics.handled(c, -1);
    expect(metrics.tableCounts()).toEqual([
      { table: 'public.a', changes: 3 },
      { table: 'other.a', changes: 1 },
      { table: 'public.b', changes: 1 },
    ]);
  });
});
