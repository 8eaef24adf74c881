import MiniSearch from 'minisearch';
import type { Product } from './schema.js';

/** A search hit: the product's id, name and score. */
export interface SearchHit {
  id: number;
  name: string;
  score: number;
}

/**
 * The in-memory full-text index (MiniSearch) that change handlers keep in sync. Every
 * operation is idempotent, so a redelivered change leaves the index as it was.
 */
export class ProductIndex {
  readonly #search = new MiniSearch<Pick<Product, 'id' | 'name' | 'description'>>({
    fields: ['name', 'description'],
    storeFields: ['name'],
    searchOptions: { prefix: true, fuzzy: 0.2, boost: { name: 2 } },
  });

  /** Adds or replaces a product. */
  upsert(product: Pick<Product, 'id' | 'name' | 'description'>): void {
    const document = { id: product.id, name: product.name, description: product.description };
    if (this.#search.has(product.id)) this.#search.replace(document);
    else this.#search.add(document);
  }

  /** Removes a product if it is indexed. */
  remove(id: number): void {
    if (this.#search.has(id)) this.#search.discard(id);
  }

  /** Empties the index (on TRUNCATE). */
  clear(): void {
    this.#search.removeAll();
  }

  get size(): number {
    return this.#search.documentCount;
  }

  search(query: string): SearchHit[] {
    return this.#search.search(query).map((result) => ({
      id: Number(result.id),
      name: String(result.name),
      score: Math.round(result.score * 100) / 100,
    }));
  }
}
