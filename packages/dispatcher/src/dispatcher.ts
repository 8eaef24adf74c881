import { formatLsn } from '@koyo/pgoutput';
import type { ReplicationEvent } from '@koyo/slot';
import type { Backend, WireStream } from './_backend.js';
import { AckTracker } from './ack-tracker.js';
import { Assembler } from './assembler.js';
import { Cancelled, Deliverer, newDeliveryCounters, type DeliveryCounters } from './delivery.js';
import { DRAIN_PREFIX, Engine } from './engine.js';
import { asError, asStreamFailure, KoyoDispatcherError } from './errors.js';
import { ChangeRate, collectStats } from './dispatcher-stats.js';
import { DrainWaiters } from './drain-waiters.js';
import { createKoyoLogger, silentLogger, type Logger } from './logger.js';
import { resolveOptions, type DispatcherOptions, type ResolvedOptions } from './options.js';
import type { Dispatcher } from './dispatcher-api.js';
import { originNameForSlot, type QualifiedTable } from '@koyo/slot';
import { BackfillRunner } from './backfill-runner.js';
import { BACKFILL_PREFIX } from './backfill-windows.js';
import { positiveInt } from './options.js';
import { backfillTables, owedTables, tablesLabel } from './backfill-tables.js';
import { OriginPool } from './origin-pool.js';
import { HandlerRegistry } from './registry.js';
import { SlotWatch } from './slot-watch.js';
import { DispatcherMetrics } from './metrics.js';
import type {
  BackfillOptions,
  BackfillResult,
  ChangeHandler,
  DispatcherState,
  DispatcherStats,
  MessageHandler,
  TableHandlers,
  TransactionHandler,
} from './types.js';

export type { Dispatcher } from './dispatcher-api.js';

/** What a backend factory gets. */
export interface BackendContext {
  logger: Logger;
}

/** The dispatcher; {@link createDispatcher} wires it to PostgreSQL. */
export class DispatcherImpl implements Dispatcher {
  readonly closed: Promise<void>;
  private state: DispatcherState = 'idle';
  private readonly registry: HandlerRegistry;
  private readonly resolved: ResolvedOptions;
  private readonly logger: Logger;
  private readonly counters: DeliveryCounters = newDeliveryCounters();
  private readonly metrics: DispatcherMetrics;
  private readonly deliverer: Deliverer;
  private engine: Engine | null = null;
  private assembler: Assembler | null = null;
  private stream: WireStream | null = null;
  private loop: Promise<void> | null = null;
  private processing: Promise<void> | null = null;
  private stopping = false;
  private shutdownPromise: Promise<void> | null = null;
  private error: KoyoDispatcherError | null = null;
  private readonly drains = new DrainWaiters();
  private readonly rate = new ChangeRate();
  private rateTimer: NodeJS.Timeout | null = null;
  private resolveClosed!: () => void;
  private rejectClosed!: (error: Error) => void;
  private readonly onAbort = (): void => void this.stop();

  private readonly backend: Backend;
  private starting: Promise<void> | null = null;
  private runner: BackfillRunner | null = null;
  private originPool: OriginPool | null = null;
  private slotWatch: SlotWatch | null = null;
  readonly origin: string;

  constructor(
    private readonly options: DispatcherOptions,
    backend: (context: BackendContext) => Backend,
  ) {
    this.resolved = resolveOptions(options);
    this.origin = originNameForSlot(options.slot);
    this.registry = new HandlerRegistry(options.tables);
    this.metrics = new DispatcherMetrics(options.slot);
    this.logger = options.logger === false ? silentLogger : (options.logger ?? createKoyoLogger());
    this.backend = backend({ logger: this.logger });
    this.deliverer = new Deliverer(this.resolved.policy, this.logger, this.counters);
    this.closed = new Promise<void>((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // Marks the promise handled: a failure is reported through logs, stats() and drain() even
    // when nobody awaits `closed`, without crashing the process with an unhandled rejection.
    this.closed.catch(() => undefined);
  }

  get db(): OriginPool {
    // Created on first access; a dispatcher that never uses it needs no origin privileges.
    this.originPool ??= new OriginPool({
      connection: this.options.connection,
      origin: this.origin,
      waitMs: this.resolved.originWaitMs,
    });
    return this.originPool;
  }

  onChange(handler: ChangeHandler): () => void {
    return this.registry.addChangeHandler(handler);
  }

  onTable<Row = Record<string, unknown>>(
    table: string,
    handler: ChangeHandler<Row> | TableHandlers<Row>,
  ): () => void {
    return this.registry.addTableHandler(table, handler as ChangeHandler | TableHandlers);
  }

  onTransaction(handler: TransactionHandler): () => void {
    return this.registry.addTransactionHandler(handler);
  }

  onMessage(prefix: string, handler: MessageHandler): () => void {
    if (prefix === DRAIN_PREFIX || prefix === BACKFILL_PREFIX)
      throw new KoyoDispatcherError(
        'INVALID_OPTION',
        `The message prefix ${JSON.stringify(prefix)} is reserved for ${prefix === DRAIN_PREFIX ? 'drain()' : "backfill()'s watermarks"}; choose another prefix.`,
      );
    return this.registry.addMessageHandler(prefix, handler);
  }

  start(): Promise<void> {
    if (this.state !== 'idle') {
      return Promise.reject(
        new KoyoDispatcherError(
          'ALREADY_STARTED',
          `start() was called on a dispatcher that is ${this.state}; create a new dispatcher to start again.`,
        ),
      );
    }
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.registry.empty) {
      this.logger.warn(
        { slot: this.options.slot },
        'starting a dispatcher with no handler: changes are acknowledged without being handled',
      );
    }
    this.state = 'starting';
    const signal = this.options.signal;
    if (signal?.aborted) {
      this.state = 'stopped';
      this.resolveClosed();
      return;
    }
    try {
      // Names first (read-only), so that a table that does not exist, or an onTable outside
      // `tables`, stops the start before anything is created.
      this.registry.resolve(await this.backend.resolveTables(this.registry.tableRefs));
      // db taken before start(): its privileges are checked before anything is created.
      if (this.originPool) await this.originPool.checkPrivileges(this.options.connection);
      const tables = this.registry.tables as readonly QualifiedTable[] | null;
      // Recorded before the slot exists, so a crash right after its creation still owes it.
      if (this.options.backfill === 'initial' && !(await this.backend.slotExists()))
        await this.backend.backfill.markInitial();
      await this.backend.setup(tables);
    } catch (error) {
      this.state = 'failed';
      this.error =
        error instanceof KoyoDispatcherError
          ? error
          : new KoyoDispatcherError(
              'SETUP_FAILED',
              `Setting up slot ${this.options.slot} / publication ${this.options.publication} failed: ${asError(error).message}`,
              { cause: error },
            );
      this.rejectClosed(this.error);
      await this.backend.close().catch(() => undefined);
      throw this.error;
    }
    if (this.stopping) return; // stop() during setup
    const stream = this.backend.openStream();
    this.stream = stream;
    const tracker = new AckTracker((lsn) => {
      try {
        stream.acknowledge(lsn);
      } catch (error) {
        this.fail(error);
      }
    });
    this.engine = new Engine(
      this.registry,
      this.deliverer,
      tracker,
      this.resolved,
      (error) => this.fail(error),
      this.metrics,
    );
    this.assembler = new Assembler(
      this.registry,
      this.engine,
      this.backend.lookupPrimaryKey,
      this.backend.lookupDomains,
      this.backend.lookupCommittedMessages,
      this.logger,
      this.resolved.spillThreshold,
      () => this.stopping,
      (name) => this.resolved.ignoredOrigins === null || this.resolved.ignoredOrigins.has(name),
    );
    this.state = 'running';
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.rateTimer = setInterval(() => this.sampleRate(), 1000);
    this.rateTimer.unref();
    this.metrics.start(() => this.stats());
    if (this.backend.slotHealth) {
      this.slotWatch = new SlotWatch(
        this.backend.slotHealth,
        this.options.slot,
        this.resolved.slotCheckIntervalMs,
        this.resolved.retainedWalWarningBytes,
        this.logger,
        (error) => this.fail(error),
      );
      this.slotWatch.start();
    }
    this.logger.info(
      {
        slot: this.options.slot,
        publication: this.options.publication,
        tables: tablesLabel(this.registry.tables),
        concurrency: this.resolved.concurrency,
      },
      'dispatcher started',
    );
    this.loop = this.run(stream, this.assembler);
    this.runner = new BackfillRunner(
      this.backend.backfill,
      this.engine.windows,
      this.logger,
      this.options.slot,
    );
    void this.resumeBackfills();
  }

  backfill(tables?: string | string[], options: BackfillOptions = {}): Promise<BackfillResult> {
    return this.startBackfill(() => backfillTables(tables, this.registry, this.backend), options);
  }

  private async startBackfill(
    list: () => Promise<readonly QualifiedTable[]>,
    options: BackfillOptions,
  ): Promise<BackfillResult> {
    const chunkSize =
      options.chunkSize === undefined ? undefined : positiveInt(options.chunkSize, 'chunkSize', 1);
    if (this.state === 'starting' && this.starting) await this.starting.catch(() => undefined);
    const runner = this.runner;
    if (this.state !== 'running' || !runner) {
      if (this.error) throw this.error;
      throw new KoyoDispatcherError(
        'NOT_RUNNING',
        `backfill() needs a running dispatcher (it is ${this.state}); call start() first.`,
      );
    }
    return runner.backfill(await list(), chunkSize, options.signal);
  }

  /** Runs the initial backfill owed, or resumes an interrupted one, in the background. */
  private async resumeBackfills(): Promise<void> {
    try {
      const tables = await owedTables(this.registry, this.backend);
      if (tables.length === 0) return;
      this.logger.info(
        { slot: this.options.slot, tables: tablesLabel(tables) },
        'backfill owed: starting it',
      );
      await this.startBackfill(async () => tables, {});
    } catch (error) {
      if (!this.stopping) this.fail(error);
    }
  }

  stop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      this.resolveClosed();
      return this.originPool?.close() ?? Promise.resolve();
    }
    if (this.state === 'starting') {
      this.stopping = true;
    }
    return this.shutdown();
  }

  async drain(): Promise<void> {
    if (this.state !== 'running') {
      if (this.error) throw this.error;
      throw new KoyoDispatcherError(
        'NOT_RUNNING',
        `drain() needs a running dispatcher (it is ${this.state}); call start() first.`,
      );
    }
    return this.drains.drain(this.engine!, (prefix, token) =>
      this.backend.emitMarker(prefix, token),
    );
  }

  stats(): DispatcherStats {
    return collectStats({
      state: this.state,
      stream: this.stream,
      engine: this.engine,
      counters: this.counters,
      error: this.error,
      runner: this.runner,
      metrics: this.metrics,
      slotWatch: this.slotWatch,
      rate: this.rate,
    });
  }

  private sampleRate(): void {
    this.rate.sample(this.engine ? this.engine.counters.changes : 0);
    this.metrics.sample();
  }

  private async run(stream: WireStream, assembler: Assembler): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (this.stopping) return await this.finish(iterator.next(), assembler);
        const next: IteratorResult<ReplicationEvent> = await iterator.next();
        if (next.done) {
          if (!this.stopping)
            this.fail(
              new KoyoDispatcherError(
                'STREAM_FAILED',
                'The replication stream ended unexpectedly; start the dispatcher again.',
              ),
            );
          return;
        }
        if (this.stopping) return await this.finish(Promise.resolve(next), assembler);
        const result = assembler.handle(next.value);
        if (result !== undefined) {
          this.processing = result;
          await result;
          this.processing = null;
        }
      }
    } catch (error) {
      this.processing = null;
      if (error instanceof Cancelled && this.stopping) return;
      this.fail(error);
    }
  }

  /**
   * The loop's last step once stopping: when the next event (`pending`) is already received and
   * is the commit of the transaction being handled, it is handled if that calls no handler, so a
   * transaction whose handlers finished is acknowledged before the stream closes.
   */
  private async finish(
    pending: Promise<IteratorResult<ReplicationEvent>>,
    assembler: Assembler,
  ): Promise<void> {
    this.processing = assembler.commitIfReceived(pending);
    try {
      await this.processing;
    } finally {
      this.processing = null;
    }
  }

  private fail(error: unknown): void {
    if (!this.error) {
      this.error = asStreamFailure(error);
      this.logger.error(
        { slot: this.options.slot, error: this.error.message, code: this.error.code },
        'dispatcher failed, stopping',
      );
    }
    void this.shutdown();
  }

  private shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.stopping = true;
    if (this.state === 'running' || this.state === 'starting') this.state = 'stopping';
    // Synchronously, before any await: no queued handler call may start once stopping.
    this.deliverer.cancel();
    this.engine?.halt();
    this.runner?.stop(this.error ?? undefined);
    if (this.starting) await this.starting.catch(() => undefined);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.deliverer.cancel();
    this.engine?.halt();
    // The loop handles received events in microtasks: after this turn it is either waiting for
    // the server or busy (`processing`) with an event, or with its last step (see finish()).
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Let the running handlers finish; their work is acknowledged as it completes, and so is
    // their transaction when its commit is already received.
    while (this.processing) await this.processing.catch(() => undefined);
    if (this.engine) await this.engine.settled();
    if (this.stream) {
      try {
        await this.stream.stop();
      } catch (error) {
        this.logger.warn(
          { slot: this.options.slot, error: asError(error).message },
          'closing the replication stream failed',
        );
      }
    }
    if (this.loop) await this.loop;
    this.assembler?.close();
    if (this.rateTimer) clearInterval(this.rateTimer);
    this.slotWatch?.stop();
    this.metrics.stop();
    await this.backend.close().catch(() => undefined);
    await this.originPool?.close();
    const reason =
      this.error ??
      new KoyoDispatcherError(
        'STOPPED',
        'The dispatcher stopped before the drained changes were handled.',
      );
    this.drains.rejectAll(reason);
    if (this.error) {
      this.state = 'failed';
      this.rejectClosed(this.error);
    } else {
      this.state = 'stopped';
      if (wasRunning)
        this.logger.info(
          {
            slot: this.options.slot,
            acknowledged: formatLsn(this.engine?.tracker.acknowledged ?? 0n),
          },
          'dispatcher stopped',
        );
      this.resolveClosed();
    }
  }
}
