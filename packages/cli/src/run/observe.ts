import type { Dispatcher, Logger } from '@koyo/dispatcher';
import {
  parseListen,
  serveMetrics,
  serveStatus,
  type MetricsServer,
  type StatusServer,
} from '@koyo/status';
import { stringValue, type ParsedArgs } from '../args.js';

/** What `--metrics` and `--ui` started; `close()` stops both. */
export interface Observability {
  close(): Promise<void>;
}

/**
 * `koyo run --metrics [host:]port` (Prometheus text at /metrics) and `--ui [host:]port` (the
 * live status page of `@koyo/status`). Loopback unless `--allow-remote`. Call before
 * `dispatcher.start()`: the dispatcher takes its instruments from the provider registered then.
 */
export async function startObservability(
  args: ParsedArgs,
  dispatcher: Dispatcher,
  page: { title: string; connection: string },
  logger: Logger,
): Promise<Observability> {
  const allowRemote = args.values['allow-remote'] === true;
  const warn = (message: string): void => logger.warn({}, message);
  const metricsAt = stringValue(args, 'metrics');
  const uiAt = stringValue(args, 'ui');
  let metrics: MetricsServer | undefined;
  let status: StatusServer | undefined;
  try {
    if (metricsAt !== undefined) {
      metrics = await serveMetrics({ ...parseListen(metricsAt, '--metrics'), allowRemote, warn });
      logger.info({ url: metrics.url }, 'Prometheus metrics');
    }
    if (uiAt !== undefined) {
      status = await serveStatus({
        ...parseListen(uiAt, '--ui'),
        dispatcher,
        allowRemote,
        warn,
        ...page,
      });
      logger.info({ url: status.url }, 'status page');
    }
  } catch (error) {
    await metrics?.close();
    throw error;
  }
  return {
    close: async () => {
      await status?.close();
      await metrics?.close();
    },
  };
}
