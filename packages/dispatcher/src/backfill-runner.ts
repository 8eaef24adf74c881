import { randomBytes } from 'node:crypto';
import type { QualifiedTable } from '@koyo/slot';
import type { BackfillSource, ReadChunk, TableShape } from './_backfill-source.js';
import { watermark, type BackfillWindows, type ChunkOutcome } from './backfill-windows.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { BackfillResult, BackfillTableStats } from './types.js';

/** One table's entry of a {@link BackfillResult}. */
export type TableResult = BackfillResult['tables'][number];

/** Default rows per chunk. */
export const DEFAULT_CHUNK_SIZE = 10_000;
/**
 * Chunks read ahead of delivery. 1: reading the next chunk while one is delivered measured no
 * faster (tooling/bench: parsing rows in JS is the bottleneck, on the same thread as delivery),
 * and one chunk in flight keeps a crash's redelivery to that chunk.
 */
const PIPELINE = 1;

/** Live progress of one table (what `stats().backfill` shows). */
interface TableProgress {
  stats: BackfillTableStats;
  started: number;
  startRows: number;
}

/**
 * Runs backfills: per table, chunk after chunk in key order, each between a low and a high
 * watermark written into the slot; the stream's side ({@link BackfillWindows}) delivers the
 * rows. Progress is recorded once a chunk is acknowledged, so a restart resumes after it.
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

  /** No chunk starts from now on; chunks waiting for their high watermark fail with `error`. */
  stop(error: Error): void {
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
   * started with, a new one uses {@link DEFAULT_CHUNK_SIZE}.
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
    const chunkSize =
      requestedChunkSize ??
      (resumed && progress!.chunkSize > 0 ? progress!.chunkSize : DEFAULT_CHUNK_SIZE);
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
    // Chunks read and waiting for the stream to deliver them, oldest first: the next chunk is
    // read while the previous one is delivered.
    const inFlight: { id: string; read: ReadChunk; outcome: Promise<ChunkOutcome> }[] = [];
    let readFrom = progress.lastKey;
    let exhausted = false;
    try {
      for (;;) {
        while (!exhausted && inFlight.length < PIPELINE) {
          this.checkStopped(signal);
          const chunk = await this.readBetweenWatermarks(shape, readFrom, chunkSize);
          if (chunk === null) {
            exhausted = true;
            break;
          }
          inFlight.push(chunk);
          readFrom = chunk.read.lastKey;
          if (chunk.read.rows.length < chunkSize) exhausted = true;
        }
        const head = inFlight.shift();
        if (!head) break;
        const ended = await head.outcome;
        if (ended.redo) {
          // Read again from the last recorded key, once the chunks after it are delivered.
          for (const rest of inFlight.splice(0)) await rest.outcome.catch(() => undefined);
          readFrom = progress.lastKey;
          exhausted = false;
          continue;
        }
        chunks++;
        progress = {
          lastKey: head.read.lastKey,
          rows: progress.rows + ended.delivered,
          chunkSize,
          done: false,
        };
        // Only after the chunk's rows were handled and acknowledged: a crash before this
        // line redelivers the chunk (at-least-once), never skips it.
        await this.source.saveProgress(table, progress);
        this.logger.debug(
          {
            slot: this.slot,
            table: label,
            chunk: head.id,
            lastKey: head.read.lastKey,
            rows: progress.rows,
          },
          'backfill chunk acknowledged',
        );
        live.stats.rows = progress.rows;
      }
      await this.source.saveProgress(table, { ...progress, done: true });
    } catch (error) {
      live.stats.state = 'failed';
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
   * Writes the low watermark, reads the chunk after `after`, writes the high watermark. Null
   * when nothing is left to read; otherwise `outcome` settles once the stream delivered it.
   */
  private async readBetweenWatermarks(
    shape: TableShape,
    after: string[] | null,
    chunkSize: number,
  ): Promise<{ id: string; read: ReadChunk; outcome: Promise<ChunkOutcome> } | null> {
    const id = `${this.run}.${this.sequence++}`;
    const outcome = this.windows.add(id, shape);
    outcome.catch(() => undefined); // awaited by the caller; a stop() may reject it before that
    try {
      await this.source.emitWatermark(watermark(id, 'low'));
      const read = await this.source.readChunk(shape, after, chunkSize);
      if (read.rows.length === 0) {
        this.windows.cancel(id);
        return null;
      }
      this.windows.fill(id, read.rows);
      await this.source.emitWatermark(watermark(id, 'high'));
      return { id, read, outcome };
    } catch (error) {
      this.windows.cancel(id);
      throw error;
    }
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
