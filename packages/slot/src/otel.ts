import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { Meter } from '@opentelemetry/api';

let api: typeof OtelApi | null | undefined;

/**
 * The OpenTelemetry meter koyo's packages record with, or `null` when `@opentelemetry/api` (an
 * optional peer dependency) is not installed. Without a registered SDK the API hands out no-op
 * instruments, so recording costs nothing. Take it when a component starts, after the app
 * registered its `MeterProvider`: instruments of the no-op provider stay no-ops.
 *
 * @example
 * const meter = koyoMeter('@koyo/slot');
 * meter?.createCounter('my.counter').add(1);
 */
export function koyoMeter(scope: string): Meter | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as typeof OtelApi;
    } catch {
      api = null;
    }
  }
  return api ? api.metrics.getMeter(scope) : null;
}
