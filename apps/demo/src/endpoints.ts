// What each demo service answers, so a visitor can try it: printed with one curl example per
// endpoint when the services start, and served as the page at `GET /`.

/** One endpoint of a demo service, with a curl example. */
export interface Endpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  what: string;
  /** JSON body of the example, for POST/PATCH. */
  body?: unknown;
}

export const SEARCH_ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/search?q=teapot', what: 'search the index that change handlers keep' },
  { method: 'GET', path: '/products', what: 'list products (a read: the replica)' },
  { method: 'GET', path: '/products/1', what: 'one product' },
  {
    method: 'POST',
    path: '/products',
    what: 'add a product (a write: the primary)',
    body: { name: 'Clay teapot', priceCents: 3900 },
  },
  {
    method: 'PATCH',
    path: '/products/1',
    what: 'rename a product',
    body: { name: 'Cast iron tetsubin' },
  },
  { method: 'DELETE', path: '/products/1', what: 'delete a product' },
  { method: 'GET', path: '/health', what: 'index size and dispatcher stats' },
];

export const ORDERS_ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/orders', what: 'list orders (the replica)' },
  {
    method: 'POST',
    path: '/orders',
    what: 'place an order in a transaction (the primary)',
    body: { customer: 'ada', lines: [{ sku: 'TEA-1', quantity: 1, priceCents: 4900 }] },
  },
  { method: 'GET', path: '/orders/1', what: 'one order' },
  { method: 'POST', path: '/orders/1/cancel', what: 'cancel an order' },
  { method: 'GET', path: '/audit', what: 'the audit log written by a change handler' },
];

/** `curl ...` for one endpoint of the service at `base`. */
export function curl(base: string, endpoint: Endpoint): string {
  const method = endpoint.method === 'GET' ? '' : ` -X ${endpoint.method}`;
  const body =
    endpoint.body === undefined
      ? ''
      : ` -H 'content-type: application/json' -d '${JSON.stringify(endpoint.body)}'`;
  return `curl${method}${body} '${base}${endpoint.path}'`;
}

/** The plain-text page served at `GET /`: the endpoints with their curl examples. */
export function indexPage(title: string, base: string, endpoints: Endpoint[]): string {
  return `${title}\n\n${endpoints.map((e) => `${e.method} ${e.path.split('?')[0]}  ${e.what}\n  ${curl(base, e)}`).join('\n')}\n`;
}
