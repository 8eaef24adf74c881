import { KoyoRouterError } from './errors.js';

/**
 * @internal refuses an empty or blank connection string for a node. Drivers take `''` as "no URL"
 * and connect to their defaults (PGHOST, localhost), so a missing environment variable would
 * route to the wrong server without a word.
 */
export function assertConnectionString(value: unknown, label: string): void {
  if (typeof value === 'string' && value.trim() === '') {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `${label}: the connection string is empty. Pass a postgres:// URL (is the environment variable you read it from set?).`,
    );
  }
}
