import { createDispatcher, type Dispatcher, type Logger } from '@koyo/dispatcher';
import { createSlotManager } from '@koyo/slot';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { withRouting } from '@koyo/drizzle';
import { drizzleTypeParsers, onTable } from '@koyo/drizzle/changes';
import { products, type NewProduct, type Product } from './schema.js';
import { ProductIndex } from './search-index.js';

/** Options of {@link createCatalog}. */
export interface CatalogOptions {
  /** Connection string of the primary (a role with REPLICATION, to stream changes). */
  primaryUrl: string;
  /** Connection strings of streaming replicas that take reads. May be empty. */
  replicaUrls: string[];
  /** Replication slot of the search index. Default `search_sync`. */
  slot?: string;
  /** Publication of the `products` table. Default `search_sync`. */
  publication?: string;
  /** One line per routed query (`Replica: ...` / `Primary: ...`). */
  onQueryLog?: (line: string) => void;
  /** The dispatcher's logger; default: none. */
  logger?: Logger | false;
}

const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url));

/**
 * The product catalogue: a Drizzle database routed by koyo (reads to replicas, writes and
 * transactions to the primary, read-your-writes on) and a MiniSearch index that koyo change
 * handlers keep in sync with the `products` table.
 */
export async function createCatalog(options: CatalogOptions) {
  const slot = options.slot ?? 'search_sync';
  const publication = options.publication ?? 'search_sync';
  const primaryPool = new pg.Pool({ connectionString: options.primaryUrl, max: 5 });
  const replicaPools = options.replicaUrls.map(
    (url) => new pg.Pool({ connectionString: url, max: 5 }),
  );
  const primaryDb = drizzle(primaryPool, { schema: { products } });
  await migrate(primaryDb, { migrationsFolder });

  const db = withRouting(
    primaryDb,
    replicaPools.map((pool) => drizzle(pool, { schema: { products } })),
    {
      readYourWrites: { mode: 'lsn', waitMs: 500 },
      maxLag: { bytes: 16 * 1024 * 1024 },
      ...(options.onQueryLog ? { logger: (line: string) => options.onQueryLog?.(line) } : {}),
    },
  );

  const index = new ProductIndex();
  const dispatcher: Dispatcher = createDispatcher({
    connection: options.primaryUrl,
    slot,
    publication,
    tables: ['products'],
    // Change rows then equal db.select() rows exactly (timestamps to the microsecond).
    typeParsers: drizzleTypeParsers,
    // The slot is created at each start (the index lives in memory), so every existing product
    // reaches the index as a 'snapshot' change, consistently with the changes streamed meanwhile.
    backfill: 'initial',
    logger: options.logger ?? false,
  });
  onTable(dispatcher, products, {
    snapshot: (change) => index.upsert(change.new),
    insert: (change) => index.upsert(change.new),
    update: (change) => index.upsert(change.new),
    delete: (change) => index.remove(Number(change.id)),
    truncate: () => index.clear(),
  });

  /**
   * Starts streaming and the backfill of the existing products (the index fills while the
   * service already answers; {@link backfilled} says when every existing row is in). The index
   * lives in memory, so a slot left by an earlier run is dropped first: its position belongs to
   * an index that no longer exists, and a new slot makes the dispatcher backfill again.
   */
  async function start(): Promise<void> {
    const manager = createSlotManager(options.primaryUrl);
    try {
      await manager.ensurePublication(publication, { tables: ['products'] });
      await manager.dropSlot(slot);
    } finally {
      await manager.close();
    }
    await dispatcher.start();
  }

  /** Resolves once every product that existed at start is in the index. */
  async function backfilled(): Promise<void> {
    for (;;) {
      const stats = dispatcher.stats();
      if (stats.state === 'failed' || stats.state === 'stopped')
        throw new Error(
          `search-sync: the dispatcher ${stats.state} before the backfill finished: ${stats.error ?? ''}`,
        );
      if (stats.backfill.some((table) => table.state === 'done')) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function stop(): Promise<void> {
    await dispatcher.stop();
    db.$router.close();
    await Promise.all([primaryPool.end(), ...replicaPools.map((pool) => pool.end())]);
  }

  return {
    db,
    index,
    dispatcher,
    start,
    backfilled,
    stop,
    create: async (product: NewProduct): Promise<Product> => {
      const [row] = await db.insert(products).values(product).returning();
      return row!;
    },
    update: async (id: number, patch: Partial<NewProduct>): Promise<Product | undefined> => {
      const [row] = await db
        .update(products)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(products.id, id))
        .returning();
      return row;
    },
    remove: async (id: number): Promise<boolean> => {
      const rows = await db
        .delete(products)
        .where(eq(products.id, id))
        .returning({ id: products.id });
      return rows.length > 0;
    },
    get: async (id: number): Promise<Product | undefined> => {
      const [row] = await db.select().from(products).where(eq(products.id, id));
      return row;
    },
    list: async (): Promise<Product[]> => db.select().from(products).orderBy(products.id),
  };
}

/** A running catalogue (see {@link createCatalog}). */
export type Catalog = Awaited<ReturnType<typeof createCatalog>>;
