export { createCatalog, type Catalog, type CatalogOptions } from './catalog.js';
export { createCatalogApp, RYW_HEADER, type ReadYourWritesTokens } from './http.js';
export { ProductIndex, type SearchHit } from './search-index.js';
export { products, type NewProduct, type Product } from './schema.js';
