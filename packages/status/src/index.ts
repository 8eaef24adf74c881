/**
 * `@koyo/status`: a live status page ({@link serveStatus}) and a Prometheus `/metrics`
 * endpoint ({@link serveMetrics}) for a koyo dispatcher and router.
 *
 * @packageDocumentation
 */
export { serveStatus, type ServeStatusOptions, type StatusServer } from './serve-status.js';
export { serveMetrics, type ServeMetricsOptions, type MetricsServer } from './serve-metrics.js';
export type { StatusDispatcher, StatusRouter, StatusSample, ReplicaSample } from './sampler.js';
export { parseListen, isLoopback, redactConnection, type ListenAddress } from './listen.js';
export { KoyoStatusError, type KoyoStatusErrorCode } from './errors.js';
