import { randomBytes } from 'node:crypto';
import type { QualifiedTable } from '@koyo/slot';
import type { BackfillSource, ReadChunk, TableShape } from './_backfill-source.js';
import { ChunkSizer } from './backfill-chunk-sizer.js';
import { watermark, type BackfillWindows, type ChunkOutcome } from './backfill-windows.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { BackfillResult, BackfillTableStats } from './types.js';

/** One table's entry of a {@link BackfillResult}. */
export type TableResult = BackfillResult['tables'][number];

/** A chunk read between its watermarks; `outcome` settles once the stream delivered it. */
interface Read {
  id: string;
  shape: TableShape;
  read: ReadChunk;
  /** The rows asked for: fewer were read only at the end of the table. */
  limit: number;
  outcome: Promise<ChunkOutcome>;
}

/** The outcome of `current`, or the failure of `next` (read meanwhile), whichever comes first. */
function outcomeOf(current: Read, next: Promise<Read | null> | null): Promise<ChunkOutcome> {
  if (next === null) return current.outcome;
  return Promise.race([current.outcome, next.then(() => new Promise<never>(() => undefined))]);
}

/** Live progress of one table (what `stats().backfill` shows). */
interface TableProgress {
  stats: BackfillTableStats;
  started: number;
  startRows: number;
}

/**
 * Runs backfills: per table, chunk after chunk in key order, each read between a low and a high
 * watermark written into the slot (one round trip); the stream's side ({@link BackfillWindows})
 * delivers the rows. Progress is recorded once a chunk is acknowledged, so a restart resumes
 * after it. The next chunk is read while the stream delivers one, and is allowed to be
 * delivered once that one's progress is recorded: its high watermark is already in the slot
 * by then, so the stream goes on at once and the server's reading overlaps the handlers' work.
 */
export class BackfillRunner {
  private readonly progress = new Map<string, TableProgress>();
  private readonly run = randomBytes(6).toString('hex');
  private sequence = 0;
  private stopped: Error | null = null;
  /** Tables run one after the other. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Tables queued or being backfilled: a second request joins the first. */
  private readonly queued = new Map<string, Promise<TableResult>>();

  constructor(
    private readonly source: BackfillSource,
    private readonly windows: BackfillWindows,
    private readonly logger: Logger,
    private readonly slot: string,
  ) {}

  /** Per-table progress for `stats()`, in the order the tables started. */
  stats(): BackfillTableStats[] {
    const now = Date.now();
    return [...this.progress.values()].map(({ stats, started, startRows }) => ({
      ...stats,
      rowsPerSecond:
        stats.state === 'running' || stats.rowsPerSecond === 0
          ? Math.round(((stats.rows - startRows) * 1000) / Math.max(1, now - started))
          : stats.rowsPerSecond,
    }));
  }

  /**
   * No chunk starts from now on; chunks waiting for their high watermark fail with `error` (by
   * default a `STOPPED` error saying that the next start resumes the backfill).
   */
  stop(error?: Error): void {
    error ??= new KoyoDispatcherError(
      'STOPPED',
      'The dispatcher stopped during a backfill; its progress is kept and the next start resumes it after the last acknowledged chunk.',
    );
    this.stopped ??= error;
    this.windows.failAll(error);
  }

  /**
   * Backfills the tables, one table after the other (after any backfill already queued); a
   * table already queued or running is not backfilled twice: the request joins that run.
   */
  async backfill(
    tables: readonly QualifiedTable[],
    chunkSize: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BackfillResult> {
    const runs = tables.map((table) => {
      const name = `${table.schema}.${table.name}`;
      let run = this.queued.get(name);
      if (!run) {
        run = this.queue.then(() => this.table(table, chunkSize, signal));
        this.queue = run.catch(() => undefined);
        this.queued.set(name, run);
        const forget = (): void => void this.queued.delete(name);
        run.then(forget, forget);
      }
      return run;
    });
    const result: BackfillResult = { tables: [] };
    for (const run of runs) result.tables.push(await run);
    return result;
  }

  /**
   * Backfills one table. Without `chunkSize`, a resumed table goes on with the size it was
   * started with; a new one gets chunks sized by bytes ({@link ChunkSizer}).
   */
  private async table(
    table: QualifiedTable,
    requestedChunkSize: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<TableResult> {
    const label = `${table.schema}.${table.name}`;
    const started = Date.now();
    const shape = await this.source.describe(table);
    let progress = await this.source.loadProgress(table);
    const resumed = progress !== null && !progress.done;
    const sizer = new ChunkSizer(
      requestedChunkSize ?? (resumed && progress!.chunkSize > 0 ? progress!.chunkSize : undefined),
    );
    const chunkSize = sizer.recorded;
    if (progress === null || progress.done) {
      progress = { lastKey: null, rows: 0, chunkSize, done: false };
      await this.source.saveProgress(table, progress);
    }
    const live: TableProgress = {
      stats: {
        table: label,
        rows: progress.rows,
        estimatedTotal: shape.estimatedRows,
        rowsPerSecond: 0,
        state: 'running',
      },
      started,
      startRows: progress.rows,
    };
    this.progress.set(label, live);
    this.logger.info(
      {
        slot: this.slot,
        table: label,
        resumed,
        rows: progress.rows,
        estimated: shape.estimatedRows,
      },
      resumed ? 'backfill resumed' : 'backfill started',
    );
    let chunks = 0;
    // `current`: allowed, delivered by the stream. `next`: the chunk after it, read meanwhile and
    // allowed only once `current`'s progress is recorded, so the stream delivers one unrecorded
    // chunk at most and a crash redelivers at most that one.
    let current: Read | null = null;
    let next: Promise<Read | null> | null = null;
    const start = async (after: string[] | null): Promise<Read | null> => {
      const chunk = await this.readBetweenWatermarks(shape, after, sizer, signal);
      if (chunk !== null) this.windows.allow(chunk.id); // the progress before it is recorded
      return chunk;
    };
    // Redos in a row: a transaction that stays invisible (a synchronous commit waiting for its
    // standby) makes each read redo, so they are spaced out.
    let redos = 0;
    try {
      current = await start(progress.lastKey);
      while (current !== null) {
        if (next === null && current.read.rows.length === current.limit) {
          next = this.readBetweenWatermarks(shape, current.read.lastKey, sizer, signal);
          next.catch(() => undefined); // awaited below
        }
        const ended = await outcomeOf(current, next);
        if (ended.redo) {
          // Read again from the last recorded key (the chunk read ahead is dropped).
          this.drop(await next);
          next = null;
          redos++;
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * redos)));
          current = await start(progress.lastKey);
          continue;
        }
        redos = 0;
        chunks++;
        progress = {
          lastKey: current.read.lastKey,
          rows: progress.rows + ended.delivered,
          chunkSize,
          done: false,
        };
        const delivered = current;
        current = await next;
        next = null;
        if (current !== null && this.halted(signal)) {
          this.drop(current); // forgotten first, so its window closes even if the record fails
          current = null;
        }
        if (current !== null && current.read.rows.length === current.limit) {
          // The chunk after it, read while the record is written (on another session).
          next = this.readBetweenWatermarks(shape, current.read.lastKey, sizer, signal);
          next.catch(() => undefined); // awaited with `current`'s outcome
        }
        // Recorded only after the chunk's rows were handled and acknowledged: a crash before
        // the record redelivers the chunk (at-least-once), never skips it.
        await this.source.saveProgress(table, progress);
        if (current !== null) this.windows.allow(current.id);
        else this.checkStopped(signal);
        this.logger.debug(
          {
            slot: this.slot,
            table: label,
            chunk: delivered.id,
            lastKey: delivered.read.lastKey,
            rows: progress.rows,
          },
          'backfill chunk acknowledged',
        );
        live.stats.rows = progress.rows;
      }
      await this.source.saveProgress(table, { ...progress, done: true });
    } catch (error) {
      live.stats.state = 'failed';
      // Chunks not delivered are forgotten (their windows closed); the next run reads them.
      this.drop(current);
      if (next !== null) this.drop(await next.catch(() => null));
      throw this.stopped ?? error;
    }
    const ms = Date.now() - started;
    live.stats.state = 'done';
    live.stats.rowsPerSecond = Math.round(
      ((progress.rows - live.startRows) * 1000) / Math.max(1, ms),
    );
    this.logger.info(
      { slot: this.slot, table: label, rows: progress.rows, chunks, ms },
      'backfill done',
    );
    return { table: label, rows: progress.rows, chunks, ms };
  }

  /**
   * Reads the chunk after `after` between its low and high watermarks. Null when nothing is left
   * to read; otherwise `outcome` settles once the stream delivered the chunk (after
   * {@link BackfillWindows.allow}).
   */
  private async readBetweenWatermarks(
    shape: TableShape,
    after: string[] | null,
    sizer: ChunkSizer,
    signal: AbortSignal | undefined,
  ): Promise<Read | null> {
    this.checkStopped(signal);
    const id = `${this.run}.${this.sequence++}`;
    const limit = sizer.next();
    const outcome = this.windows.add(id, shape);
    outcome.catch(() => undefined); // awaited by the caller; a stop() may reject it before that
    try {
      const read = await this.source.readChunk(shape, after, limit, {
        low: watermark(id, 'low'),
        high: watermark(id, 'high'),
      });
      if (read.rows.length === 0) {
        this.windows.cancel(id);
        return null;
      }
      sizer.read(read.rows.length, read.bytes);
      this.windows.fill(id, read.rows, read.inProgress);
      return { id, shape, read, outcome, limit };
    } catch (error) {
      this.windows.cancel(id);
      throw error;
    }
  }

  /** Forgets a chunk read ahead that will not be delivered (its high watermark never comes). */
  private drop(chunk: Read | null): void {
    if (chunk !== null) this.windows.cancel(chunk.id);
  }

  /** Whether the backfill must stop (dispatcher stopping, or `signal` aborted). */
  private halted(signal: AbortSignal | undefined): boolean {
    return this.stopped !== null || signal?.aborted === true;
  }

  private checkStopped(signal: AbortSignal | undefined): void {
    if (this.stopped) throw this.stopped;
    if (signal?.aborted)
      throw new KoyoDispatcherError(
        'STOPPED',
        'The backfill was aborted; its progress is kept and the next backfill of these tables resumes after the last acknowledged chunk.',
      );
  }
}
