import { readFromPrimary, type RouteExplanation, type Router } from '@koyo/router';
import type { Knex } from 'knex';
import { classifyBuilder, type BuilderClassification } from './classify-builder.js';
import { KoyoKnexError } from './errors.js';
import { ROUTER } from './koyo-client.js';

/**
 * The router behind a routed Knex instance or one of its transactions (`trx`), or `undefined`
 * for a Knex instance that `routedKnex` did not create.
 *
 * @example
 * await knex.transaction(async (trx) => {
 *   routerOf(trx) === knex.router; // true
 * });
 */
export function routerOf(knex: Knex | Knex.Transaction): Router<Knex.Client> | undefined {
  const client = (knex as { client?: Record<symbol, unknown> } | undefined)?.client;
  return client?.[ROUTER] as Router<Knex.Client> | undefined;
}

/**
 * Where a query would run now, without running it: the decision of `@koyo/router` for its SQL,
 * with the builder's own verdict applied (a schema builder statement goes to the primary even
 * when its SQL reads). Accepts a query builder, a schema builder, `knex.raw(...)` or a SQL string.
 *
 * @example
 * explain(knex, knex('jobs').where({ state: 'ready' }).forUpdate().skipLocked()).target; // 'primary'
 * explain(knex, knex('users').where({ id: 1 })).target;                               // 'replica'
 */
export function explain(
  knex: Knex | Knex.Transaction,
  query: string | { toSQL(): unknown },
): RouteExplanation {
  const router = routerOf(knex);
  if (router === undefined)
    throw new KoyoKnexError(
      'NOT_ROUTED',
      'explain: this Knex instance was not created by routedKnex().',
    );
  let sql: string;
  let hint: BuilderClassification | undefined;
  if (typeof query === 'string') {
    sql = query;
  } else {
    hint = classifyBuilder(query);
    const compiled = query.toSQL() as
      { sql: string; toNative?: () => { sql: string } } | { sql: string }[];
    const first = Array.isArray(compiled) ? compiled[0] : compiled;
    if (first === undefined)
      throw new KoyoKnexError('INVALID_OPTION', 'explain: the builder produces no statement.');
    sql =
      'toNative' in first && typeof first.toNative === 'function'
        ? first.toNative().sql
        : first.sql;
  }
  if (hint?.role === 'write' && router.classify(sql).role === 'read') {
    const d = readFromPrimary(() => router.explain(sql));
    return { ...d, reason: d.target === 'transaction' ? d.reason : hint.reason };
  }
  return router.explain(sql);
}
