import { uniqueName, type PooledTestDatabase as Db } from '@koyo/testing/vitest';
import { createDispatcher, type Dispatcher, type DispatcherOptions } from '../src/index.js';

export { parseLsn as lsn } from '@koyo/pgoutput';
export {
  uniqueName,
  until as waitFor,
  openPooledDatabase as openDb,
  slotConfirmedFlush as confirmedFlush,
  dropSlotWhenReleased as dropSlot,
  type PooledTestDatabase as Db,
} from '@koyo/testing/vitest';

/** A dispatcher on the test database with a fresh slot and publication, and a silent logger. */
export function dispatcherFor(db: Db, options: Partial<DispatcherOptions> = {}): Dispatcher {
  return createDispatcher({
    connection: db.url,
    slot: uniqueName('slot'),
    publication: uniqueName('pub'),
    logger: false,
    statusIntervalMs: 200,
    ...options,
  });
}
