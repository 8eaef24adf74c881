import { driverNode, type RouterDriver } from './driver.js';
import { Router, type RouterNode, type RouterOptions } from './router.js';

/** @internal a node an adapter opened from one of its inputs: its handle, name and weight. */
export interface OpenedNode<N> {
  readonly handle: N;
  readonly name: string;
  readonly weight: number | undefined;
}

/**
 * @internal the routing core over an adapter's `primary` and `replicas` inputs (see
 * {@link nodeSet}): `open` makes each input's handle, which becomes a node of `driver`.
 */
export function routerOverInputs<I, N>(
  options: RouterOptions & { readonly primary: I | readonly I[]; readonly replicas?: readonly I[] },
  driver: RouterDriver<N, any, any, any>,
  identity: (input: I) => unknown,
  open: (input: I, fallbackName: string) => OpenedNode<N>,
): Router<N> {
  const make = (input: I, fallbackName: string): RouterNode<N> => {
    const { handle, name, weight } = open(input, fallbackName);
    return driverNode(driver, name, handle, weight);
  };
  const nodes = nodeSet(options.primary, options.replicas ?? [], options.discover, identity, make);
  return new Router<N>({ ...options, ...nodes });
}

/**
 * @internal The router's nodes from an adapter's `primary` and `replicas` options.
 *
 * One primary (the common case): `primary`, `replica1`, `replica2`, ... as before. A `primary`
 * list or `discover: true` (following the primary): every distinct node once, named `node1`,
 * `node2`, ... in the order given (primary candidates first) unless it has a `name`; an input
 * given twice (the same connection, e.g. a standby listed as a candidate and as a replica) is one
 * node, one pool.
 */
export function nodeSet<I, N>(
  primary: I | readonly I[],
  replicas: readonly I[],
  discover: boolean | undefined,
  identity: (input: I) => unknown,
  make: (input: I, fallbackName: string) => RouterNode<N>,
): {
  primary: RouterNode<N> | RouterNode<N>[];
  replicas: RouterNode<N>[];
  following: boolean;
} {
  const list = Array.isArray(primary);
  const candidates: readonly I[] = list ? (primary as readonly I[]) : [primary as I];
  if (!list && discover !== true) {
    return {
      primary: make(candidates[0]!, 'primary'),
      replicas: replicas.map((input, i) => make(input, `replica${i + 1}`)),
      following: false,
    };
  }
  const byIdentity = new Map<unknown, RouterNode<N>>();
  const get = (input: I): RouterNode<N> => {
    const key = identity(input);
    let node = byIdentity.get(key);
    if (node === undefined) {
      node = make(input, `node${byIdentity.size + 1}`);
      byIdentity.set(key, node);
    }
    return node;
  };
  const primaries = candidates.map(get);
  return {
    primary: list ? primaries : primaries[0]!,
    replicas: [...new Set(replicas.map(get))],
    following: true,
  };
}

/** @internal `host:port/database` of a connection URL (its identity), or the text itself. */
export function urlIdentity(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.username}@${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return url;
  }
}
