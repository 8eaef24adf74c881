/**
 * The public part of causal reads over HTTP, re-exported by `@koyo/router` and by its framework
 * entries (`@koyo/router/hono`, `@koyo/router/express`).
 */
export {
  POSITION_HEADER,
  positionFetch,
  type CausalReadsOptions,
  type PositionRouter,
} from './http-token.js';
