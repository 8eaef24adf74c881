/**
 * `@koyo/dispatcher/assembly`: how the dispatcher turns decoded pgoutput messages into
 * {@link Change} objects, without its engine, handlers or replication stream. The dispatcher's
 * own assembler is built on these; `koyo tail` uses them to print the same changes.
 *
 * @example
 * ```ts
 * const relations = new RelationCatalog(primaryKeyLookup(query), domainLookup(query));
 * // for each decoded message, inside a transaction (fields from its Begin):
 * if (message.tag === 'relation') await relations.relation(message);
 * if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete')
 *   changes.push(buildChange(relations.info(message.relation), message, fields, position++));
 * ```
 *
 * @packageDocumentation
 */
export { RelationCatalog, type DomainLookup, type PrimaryKeyLookup } from './relation-catalog.js';
export { domainLookup, primaryKeyLookup, type CatalogQuery } from './catalog-lookups.js';
export {
  buildChange,
  deleteChange,
  insertChange,
  truncateChange,
  updateChange,
  type RelationInfo,
  type TxnFields,
} from './change.js';
export type { Change, ChangeKind } from './types.js';
