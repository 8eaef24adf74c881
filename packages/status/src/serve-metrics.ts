import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type * as OtelPrometheus from '@opentelemetry/exporter-prometheus';
import type * as OtelSdk from '@opentelemetry/sdk-metrics';
import { KoyoStatusError } from './errors.js';
import { endpointHost, serveOn, type EndpointOptions } from './listen.js';

/**
 * Options of {@link serveMetrics}: where the endpoint listens. Prometheus' convention for
 * exporters is port 9464.
 */
export type ServeMetricsOptions = EndpointOptions;

/** A running metrics endpoint: {@link serveMetrics}. */
export interface MetricsServer {
  /** `http://127.0.0.1:PORT/metrics`. */
  readonly url: string;
  /** Stops the endpoint and shuts the meter provider down. */
  close(): Promise<void>;
}

/**
 * Registers an OpenTelemetry `MeterProvider` with a Prometheus exporter as the global one and
 * serves every koyo instrument (and any other the app records) at `/metrics` in Prometheus
 * text format. Call it before `dispatcher.start()` and before creating routers: instruments
 * are taken from the provider registered at that moment. Needs the optional peer dependencies
 * `@opentelemetry/api`, `@opentelemetry/sdk-metrics` and `@opentelemetry/exporter-prometheus`.
 * An app that already has an OpenTelemetry SDK does not need this: koyo records into it.
 *
 * @example
 * const metrics = await serveMetrics({ port: 9464 });
 * await dispatcher.start(); // scrape metrics.url
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const host = endpointHost('serveMetrics', 'The metrics endpoint', options);
  let api: typeof OtelApi;
  let sdk: typeof OtelSdk;
  let prometheus: typeof OtelPrometheus;
  try {
    // Loaded as CommonJS, like @koyo/slot's koyoMeter: the API's ESM build is not plain Node ESM.
    const require = createRequire(import.meta.url);
    api = require('@opentelemetry/api') as typeof OtelApi;
    sdk = require('@opentelemetry/sdk-metrics') as typeof OtelSdk;
    prometheus = require('@opentelemetry/exporter-prometheus') as typeof OtelPrometheus;
  } catch (error) {
    throw new KoyoStatusError(
      'MISSING_DEPENDENCY',
      'serveMetrics needs the OpenTelemetry SDK: npm install @opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus',
      { cause: error },
    );
  }
  const exporter = new prometheus.PrometheusExporter({ preventServerStart: true });
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] === '/metrics') exporter.getMetricsRequestHandler(req, res);
    else
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: the metrics are at /metrics');
  });
  const base = await serveOn(server, host, options.port, 'The metrics endpoint');
  const provider = new sdk.MeterProvider({ readers: [exporter] });
  if (!api.metrics.setGlobalMeterProvider(provider)) {
    await new Promise((resolve) => server.close(resolve));
    throw new KoyoStatusError(
      'INVALID_OPTION',
      'serveMetrics: a global OpenTelemetry MeterProvider is already registered; add a PrometheusExporter reader to it instead (koyo records into it already).',
    );
  }
  return {
    url: `${base}/metrics`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await provider.shutdown();
      api.metrics.disable();
    },
  };
}
