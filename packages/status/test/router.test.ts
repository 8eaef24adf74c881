// The status page and /metrics for a router on a real primary + streaming replica: replica health
// and lag on the page, koyo.router.* instruments parsed by a Prometheus text parser.
import { createRequire } from 'node:module';
import { createRoutedPool, type RoutedPool } from '@koyo/router/pg';
import { testCluster } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  serveMetrics,
  serveStatus,
  type MetricsServer,
  type StatusSample,
  type StatusServer,
} from '../src/index.js';

interface PromFamily {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => PromFamily[];

let metrics: MetricsServer;
let pool: RoutedPool;
let status: StatusServer;

beforeAll(async () => {
  metrics = await serveMetrics({ port: 0 }); // before the router: it takes its instruments when created
  const cluster = testCluster();
  pool = createRoutedPool({
    primary: cluster.primary.url,
    replicas: [cluster.replicas[0]!.url],
    maxLag: { bytes: 1024 * 1024 * 1024 }, // lag is probed
    probeIntervalMs: 200,
  });
  status = await serveStatus({
    router: pool.router,
    port: 0,
    connection: cluster.primary.url.replace('postgres@', 'postgres:pw-7x@'),
  });
});

afterAll(async () => {
  await status?.close();
  await pool?.end();
  await metrics?.close();
});

async function latest(): Promise<StatusSample> {
  const body = (await (await fetch(`${status.url}api/status`)).json()) as {
    history: StatusSample[];
    meta: { connection: string };
  };
  expect(body.meta.connection).not.toContain('pw-7x');
  return body.history[body.history.length - 1]!;
}

describe('a router on the status page and in /metrics', () => {
  it('shows each replica with its health and probed lag, and counts queries', async () => {
    for (let i = 0; i < 20; i++) await pool.query('SELECT 1');
    await pool.query('CREATE TABLE IF NOT EXISTS status_router_t (id int)');
    await pool.router.probe();
    let sample = await latest();
    for (let i = 0; i < 50 && (sample.router?.replicas[0]?.lagBytes ?? null) === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sample = await latest();
    }
    const router = sample.router!;
    expect(router.replicas).toHaveLength(1);
    expect(router.replicas[0]).toMatchObject({
      healthy: true,
      withinLag: true,
      lagBytes: expect.any(Number),
    });
    expect(router.replicas[0]!.queries + router.primary.queries).toBeGreaterThanOrEqual(21);
    expect(sample.dispatcher).toBeNull();
  });

  it('exports koyo.router.queries by node, role and reason, and the replica gauges', async () => {
    const families = new Map(
      parsePrometheus(await (await fetch(metrics.url)).text()).map((f) => [f.name, f]),
    );
    const queries = families.get('koyo_router_queries_total');
    expect(queries?.type).toBe('COUNTER');
    const reads = queries!.metrics.find(
      (m) => m.labels?.role === 'replica' && m.labels.reason === 'classified:SELECT',
    );
    expect(Number(reads?.value)).toBeGreaterThanOrEqual(20);
    const write = queries!.metrics.find(
      (m) => m.labels?.role === 'primary' && m.labels.node === 'primary',
    );
    expect(Number(write?.value)).toBeGreaterThanOrEqual(1);
    const healthy = families.get('koyo_router_replica_healthy');
    expect(healthy?.metrics[0]).toMatchObject({ value: '1' });
    expect(healthy?.metrics[0]?.labels?.replica).toBeTruthy();
    expect(families.get('koyo_router_replica_lag')?.type).toBe('GAUGE');
    expect(families.get('koyo_router_ejections_total')?.metrics[0]?.value).toBe('0');
  });

  it('refuses a second global meter provider, and a non-loopback page without allowRemote', async () => {
    await expect(serveMetrics({ port: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(
      serveStatus({ router: pool.router, port: 0, host: '0.0.0.0' }),
    ).rejects.toMatchObject({ code: 'NOT_LOOPBACK' });
  });
});
