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

  it('keeps handler runs from before the first sample in the window, and drops them 10 samples on', () => {
    const metrics = new DispatcherMetrics('slot');
    metrics.handled(change('public', 'a', 'insert'), performance.now());
    metrics.sample(); // the first per-second sample comes after the run
    expect(metrics.window().p50Ms).toBe(0.01);
    for (let i = 0; i < 10; i++) metrics.sample();
    expect(metrics.window()).toEqual({ p50Ms: null, p99Ms: null });
  });
});
