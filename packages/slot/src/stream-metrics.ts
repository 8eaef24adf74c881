import type { Attributes, BatchObservableResult } from '@opentelemetry/api';
import { koyoMeter } from './otel.js';

/** What {@link observeStream} reads from a stream at each collection. */
export interface StreamGauges {
  readonly reconnects: number;
  readonly bytesReceived: number;
  readonly bufferedBytes: number;
  readonly paused: boolean;
}

/**
 * Reports a replication stream's counters as OpenTelemetry observable instruments (read at
 * collection time, so the stream's hot path does nothing more than count):
 * `koyo.slot.reconnects`, `koyo.slot.received` (By), `koyo.slot.buffered` (By),
 * `koyo.slot.paused` (0/1), each with attribute `slot`. Returns the function that stops it.
 */
export function observeStream(slot: string, read: () => StreamGauges): () => void {
  const meter = koyoMeter('@koyo/slot');
  if (!meter) return () => undefined;
  const attributes: Attributes = { slot };
  const reconnects = meter.createObservableCounter('koyo.slot.reconnects', {
    description: 'Times the replication stream reconnected after losing its connection.',
  });
  const received = meter.createObservableCounter('koyo.slot.received', {
    description: 'Bytes of pgoutput payload received from the server.',
    unit: 'By',
  });
  const buffered = meter.createObservableGauge('koyo.slot.buffered', {
    description: 'Bytes received and waiting for the consumer (as counted for bufferSize).',
    unit: 'By',
  });
  const paused = meter.createObservableGauge('koyo.slot.paused', {
    description: '1 while the socket is paused because the buffer is full (backpressure), else 0.',
  });
  const callback = (result: BatchObservableResult): void => {
    const now = read();
    result.observe(reconnects, now.reconnects, attributes);
    result.observe(received, now.bytesReceived, attributes);
    result.observe(buffered, now.bufferedBytes, attributes);
    result.observe(paused, now.paused ? 1 : 0, attributes);
  };
  const observables = [reconnects, received, buffered, paused];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
