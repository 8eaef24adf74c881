import { DispatcherImpl, type Dispatcher } from './dispatcher.js';
import type { DispatcherOptions } from './options.js';
import { pgBackend } from './pg-backend.js';

/**
 * Creates a dispatcher: your handlers are called for every committed change of the publication's
 * tables, in commit order, with at-least-once delivery (a transaction is acknowledged to
 * PostgreSQL only after every handler of it and of every earlier transaction has finished).
 *
 * @example
 * const dispatcher = createDispatcher({ connection: process.env.DATABASE_URL!, slot: 'app', publication: 'app', tables: ['users'] });
 * dispatcher.onTable('users', {
 *   insert: (change) => jobs.enqueue('welcome', { userId: change.id }),
 *   delete: (change) => search.remove('users', change.id),
 * });
 * await dispatcher.start();
 * process.on('SIGTERM', () => void dispatcher.stop());
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  return new DispatcherImpl(options, ({ logger }) => pgBackend(options, logger));
}
