import type { Dispatcher, Logger } from '@koyo/dispatcher';
import type { KoyoConfig } from './config.js';

/** What a handlers setup function gets besides the dispatcher. */
export interface HandlersContext {
  /** The loaded config (with the connection `koyo run` resolved). */
  config: KoyoConfig;
  /** The logger `koyo run` uses (the dispatcher's `source=koyo level=info ...` lines). */
  logger: Logger;
}

/** Runs once the dispatcher has stopped: close queues, flush buffers. */
export type HandlersCleanup = () => unknown;

/**
 * The default export of `koyo.handlers.ts`: registers handlers on the dispatcher `koyo run`
 * starts (`onChange`, `onTable`, `onTransaction`, `onMessage`), and may return a cleanup function.
 */
export type HandlersSetup = (
  koyo: Dispatcher,
  context: HandlersContext,
) => void | HandlersCleanup | Promise<void | HandlersCleanup>;

/**
 * Types a `koyo.handlers.ts` file: returns its argument unchanged.
 *
 * @example
 * import { defineHandlers } from '@koyo/cli';
 * export default defineHandlers((koyo) => {
 *   koyo.onTable('users', { insert: (change) => console.log('new user', change.id) });
 * });
 */
export function defineHandlers(setup: HandlersSetup): HandlersSetup {
  return setup;
}
