import type { RelationMessage } from '@koyo/pgoutput';
import { needsPrimaryKey, relationInfo, type RelationInfo } from './change.js';
import { KoyoDispatcherError } from './errors.js';

/** Looks up a table's primary key columns (null when it has none). */
export type PrimaryKeyLookup = (oid: number) => Promise<string[] | null>;

/**
 * Returns a parser for each of these type OIDs that is a domain: pgoutput names a column's
 * domain type, which the decoder does not know, while `pg` gets the base type from a SELECT.
 */
export type DomainLookup = (oids: number[]) => Promise<Map<number, (text: string) => unknown>>;

/** OIDs from here on are user-defined (FirstNormalObjectId). */
const FIRST_USER_OID = 16_384;

/**
 * The relations of a replication session, as the dispatcher builds changes with them: each
 * Relation message, completed from the catalog when pgoutput does not say enough (the primary
 * key of FULL / NOTHING identities, parsers for domain columns). Forgotten on reconnect.
 */
export class RelationCatalog {
  private readonly relations = new Map<number, RelationInfo>();
  private readonly byObject = new WeakMap<RelationMessage, RelationInfo>();

  constructor(
    private readonly lookupPrimaryKey: PrimaryKeyLookup,
    private readonly lookupDomains: DomainLookup,
  ) {}

  /** Forgets every relation (a new session announces them again). */
  clear(): void {
    this.relations.clear();
  }

  /** Takes in a Relation message; returns a promise while the catalog is read. */
  relation(message: RelationMessage): void | Promise<void> {
    const userTypes = message.columns
      .filter((c) => c.typeOid >= FIRST_USER_OID)
      .map((c) => c.typeOid);
    if (!needsPrimaryKey(message) && userTypes.length === 0) {
      this.remember(message, relationInfo(message));
      return undefined;
    }
    return this.describe(message, userTypes);
  }

  /**
   * Completes a relation from the catalog: the primary key (FULL / NOTHING identities) and
   * parsers for domain columns. A failed lookup stops the dispatcher rather than delivering
   * changes with a wrong key (which would break per-row order) or unparsed values.
   */
  private async describe(message: RelationMessage, userTypes: number[]): Promise<void> {
    const table = `${message.schema}.${message.name}`;
    let primaryKey: string[] | null = null;
    let domains: Map<number, (text: string) => unknown> | null = null;
    try {
      if (needsPrimaryKey(message)) primaryKey = await this.lookupPrimaryKey(message.oid);
      if (userTypes.length > 0) domains = await this.lookupDomains(userTypes);
    } catch (error) {
      throw new KoyoDispatcherError(
        'STREAM_FAILED',
        `Could not read the catalog entry of ${table} (primary key, domain types): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const info = relationInfo(message, primaryKey);
    if (domains && domains.size > 0) {
      info.converters = message.columns
        .filter((c) => domains.has(c.typeOid))
        .map((c) => ({ name: c.name, parse: domains.get(c.typeOid)! }));
    }
    this.remember(message, info);
  }

  private remember(message: RelationMessage, info: RelationInfo): void {
    this.relations.set(message.oid, info);
    this.byObject.set(message, info);
  }

  /** What the dispatcher knows of a change's relation (from its Relation message if none was kept). */
  info(relation: RelationMessage): RelationInfo {
    let info = this.byObject.get(relation) ?? this.relations.get(relation.oid);
    if (!info || info.columns.length !== relation.columns.length) {
      info = relationInfo(relation);
      this.remember(relation, info);
    }
    return info;
  }
}
