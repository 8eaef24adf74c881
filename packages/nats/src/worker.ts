import type { Change, ChangeHandler, TableHandlers } from '@koyo/dispatcher';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { KoyoNatsError } from './errors.js';
import { checkStreamName, checkSubjectPrefix, deadLetterSubject, isSubjectToken } from './names.js';
import { isConnection, type NatsTarget } from './relay-options.js';

/** Options of {@link createNatsWorker}. */
export interface NatsWorkerOptions {
  /** NATS servers or an open connection (not closed by `stop()`). */
  nats: NatsTarget;
  /** The relay's stream. Default `'KOYO'`. */
  stream?: string;
  /** The relay's subject prefix. Default `'koyo'`. */
  subjectPrefix?: string;
  /** Name of the fleet: every process with the same `durable` shares the work. Consumers are `<durable>_<partition>`. */
  durable: string;
  /** The relay's `partitions`. Default 1. */
  partitions?: number;
  /** Only these tables (`'schema.table'`); default every table. */
  tables?: string[];
  /** Called for every change. */
  handler?: ChangeHandler;
  /** Per table (`'schema.table'` or `'table'`): a function, or `{ insert, update, delete, truncate }`. */
  handlers?: Record<string, ChangeHandler | TableHandlers>;
  /** Handler attempts before a change is dead-lettered, and the backoff between them. Default 3 attempts, 100 ms doubling up to 5 s. */
  retry?: { attempts?: number; backoffMs?: number; maxBackoffMs?: number };
  /** Publish a change whose handler failed every attempt to `<prefix>.dead.<schema>.<table>` and go on. Default true; false: it is retried for ever. */
  deadLetter?: boolean;
  /** How long a message may stay unacknowledged before JetStream gives it to another worker (a killed one's). Default 30 000 ms. */
  ackWaitMs?: number;
  /**
   * How many changes this process handles at once, each from a different partition (a
   * partition's changes are always one at a time, fleet-wide). Default: every consumer it runs
   * (tables × partitions) at once. A message this process pulled while all its slots are busy
   * waits here (kept from `ackWaitMs` with `working()`), so give each worker at least
   * `partitions / workers` to let the fleet spread the partitions.
   */
  concurrency?: number;
}

/** Up to `size` holders at once; waiters are served first come, first served. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

/** A worker of a fleet; see {@link createNatsWorker}. */
export interface NatsWorker {
  /** Creates (or joins) the durable consumers and starts pulling. */
  start(): Promise<void>;
  /**
   * Stops pulling, lets running handlers finish and acknowledges them. Safe to call while
   * `start()` is still running (e.g. from a signal handler installed before it): that start ends
   * without pulling further. A stopped worker does not start again (`STOPPED`).
   */
  stop(): Promise<void>;
  /** Counters since start. */
  stats(): { handled: number; failures: number; deadLettered: number };
}

async function callHandlers(options: NatsWorkerOptions, change: Change): Promise<void> {
  const byTable =
    options.handlers?.[`${change.schema}.${change.table}`] ?? options.handlers?.[change.table];
  const results: Promise<void>[] = [];
  // Sync and async handlers alike: a returned promise is awaited, a throw rejects.
  const run = (handler: ChangeHandler): void =>
    void results.push(Promise.resolve().then(() => handler(change)));
  if (options.handler) run(options.handler);
  if (typeof byTable === 'function') run(byTable);
  else if (byTable) {
    const forKind = byTable[change.kind] as ChangeHandler | undefined;
    if (forKind) run(forKind);
  }
  await Promise.all(results);
}

/**
 * Runs your handlers on changes a relay published, as one of a fleet of processes: one durable
 * pull consumer per partition with `max_ack_pending: 1`, so the changes of one key are handled one
 * at a time in commit order across the whole fleet, and partitions run in parallel. A message is
 * acknowledged after its handler resolves; a failure is retried with backoff and, after the last
 * attempt, published to `<prefix>.dead.<schema>.<table>`. A killed worker's message goes to
 * another worker after `ackWaitMs`.
 *
 * @example
 * const worker = createNatsWorker({
 *   nats: { servers: 'nats://127.0.0.1:4222' },
 *   durable: 'mailer',
 *   partitions: 8,
 *   handlers: { 'public.users': { insert: (change) => mail.welcome(change.new.email as string) } },
 * });
 * await worker.start();
 */
export function createNatsWorker(options: NatsWorkerOptions): NatsWorker {
  const stream = checkStreamName(options.stream ?? 'KOYO');
  const prefix = checkSubjectPrefix(options.subjectPrefix ?? 'koyo');
  const durable = checkStreamName(options.durable, 'durable');
  const partitions = options.partitions ?? 1;
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new KoyoNatsError(
      'INVALID_OPTION',
      `partitions must be a positive integer, got ${String(partitions)}.`,
    );
  if (!options.handler && !options.handlers)
    throw new KoyoNatsError(
      'INVALID_OPTION',
      'Give handler or handlers: the code to run for each change.',
    );
  const attempts = options.retry?.attempts ?? 3;
  const backoffMs = options.retry?.backoffMs ?? 100;
  const maxBackoffMs = options.retry?.maxBackoffMs ?? 5_000;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
  if (
    concurrency !== Number.POSITIVE_INFINITY &&
    (!Number.isSafeInteger(concurrency) || concurrency < 1)
  )
    throw new KoyoNatsError(
      'INVALID_OPTION',
      `concurrency must be a positive integer, got ${String(concurrency)}.`,
    );
  const slots = new Slots(concurrency);
  const tables = (options.tables ?? ['*.*']).map((name) => {
    const [schema, table] = name.includes('.') ? name.split('.') : ['*', name];
    if (
      !schema ||
      !table ||
      (!isSubjectToken(schema) && schema !== '*') ||
      (!isSubjectToken(table) && table !== '*')
    ) {
      throw new KoyoNatsError(
        'INVALID_NAME',
        `tables: ${JSON.stringify(name)} is not 'schema.table' with subject-safe names.`,
      );
    }
    return { schema, table, name: schema === '*' ? '' : `${schema}_${table}_` };
  });
  const counters = { handled: 0, failures: 0, deadLettered: 0 };
  let connection: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  const loops: Promise<void>[] = [];
  const subscriptions: ConsumerMessages[] = [];

  const handle = async (message: JsMsg): Promise<void> => {
    // Keep the message ours while it waits for a slot and while the handler runs longer than
    // ackWait.
    const keepAlive = setInterval(() => message.working(), Math.max(100, ackWaitMs / 3));
    await slots.acquire();
    try {
      const change = message.json<Change>();
      await callHandlers(options, change);
      counters.handled += 1;
      message.ack();
    } catch (error) {
      counters.failures += 1;
      const attempt = message.info.deliveryCount;
      if (options.deadLetter !== false && attempt >= attempts) {
        const h = headers();
        for (const key of message.headers?.keys() ?? [])
          if (key !== 'Nats-Msg-Id') h.set(key, message.headers!.get(key));
        h.set('Koyo-Error', String((error as Error)?.message ?? error).slice(0, 1000));
        h.set('Koyo-Attempts', String(attempt));
        const id = message.headers?.get('Nats-Msg-Id');
        const change = message.json<Change>();
        await js!.publish(deadLetterSubject(prefix, change.schema, change.table), message.data, {
          headers: h,
          ...(id ? { msgID: `dead:${id}` } : {}),
        });
        counters.deadLettered += 1;
        message.ack();
      } else {
        message.nak(Math.min(backoffMs * 2 ** (attempt - 1), maxBackoffMs));
      }
    } finally {
      slots.release();
      clearInterval(keepAlive);
    }
  };

  let stopping = false;
  let starting: Promise<void> | undefined;

  const open = async (): Promise<void> => {
    connection = isConnection(options.nats)
      ? options.nats
      : await connect({
          servers: options.nats.servers,
          name: options.nats.name ?? `koyo-worker-${durable}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
        });
    const jsm = await jetstreamManager(connection);
    js = jetstream(connection);
    for (const table of tables) {
      for (let partition = 0; partition < partitions; partition++) {
        // stop() during start(): no further consumers.
        if (stopping) return;
        const suffix = partitions > 1 ? `.${partition}` : '';
        const name = `${durable}_${table.name}${partition}`;
        await jsm.consumers.add(stream, {
          durable_name: name,
          filter_subject: `${prefix}.${table.schema}.${table.table}${suffix}`,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          // One unacknowledged message per partition across the fleet: per-key order.
          max_ack_pending: 1,
          ack_wait: nanos(ackWaitMs),
        });
        const messages = await (await js.consumers.get(stream, name)).consume({ max_messages: 1 });
        subscriptions.push(messages);
        loops.push(
          (async () => {
            for await (const message of messages) {
              // Dead-lettering needs NATS: when that fails, the message comes again.
              await handle(message).catch(() => message.nak(maxBackoffMs));
            }
          })(),
        );
      }
    }
  };

  return {
    start() {
      if (stopping)
        return Promise.reject(
          new KoyoNatsError('STOPPED', 'This worker was stopped; create a new one.'),
        );
      starting ??= open();
      return starting;
    },
    async stop() {
      stopping = true;
      // A start() in progress ends first (at its next step), so no consumer is left running.
      await starting?.catch(() => undefined);
      for (const messages of subscriptions) messages.stop();
      await Promise.allSettled(loops);
      if (connection && !isConnection(options.nats)) await connection.close();
    },
    stats: () => ({ ...counters }),
  };
}
