import type { Frame, WriteMark } from './context.js';
import { parseLsn } from './lsn.js';
import type { RouterMetrics } from './metrics.js';
import type { NodeState } from './node-state.js';
import { PRIMARY_POSITION_SQL, type ReplicaHealth } from './replica-health.js';
import type { ReadYourWritesOption } from './router-options.js';
import type { ReadPosition } from './token.js';

/**
 * @internal read-your-writes bookkeeping of one router: the write marks (per session, or one for
 * the process outside sessions), positions from tokens, and waiting for a replica that replayed a
 * position. A replica's known replay position only grows (probes, checks pipelined with reads, and
 * waits all raise it), so a read whose position is already replayed somewhere goes without asking.
 */
export class ReadYourWrites<N> {
  readonly #ryw: ReadYourWritesOption;
  readonly #health: ReplicaHealth<N>;
  readonly #metrics: () => RouterMetrics | null;
  readonly #owner: object;
  readonly #globalMark: WriteMark = { lsn: undefined, at: 0 };

  constructor(
    owner: object,
    ryw: ReadYourWritesOption,
    health: ReplicaHealth<N>,
    metrics: () => RouterMetrics | null,
  ) {
    this.#owner = owner;
    this.#ryw = ryw;
    this.#health = health;
    this.#metrics = metrics;
  }

  /** Whether writes learn the primary's position (`lsn` mode). */
  get lsnMode(): boolean {
    return this.#ryw !== false && this.#ryw.mode === 'lsn';
  }

  /** Whether read-your-writes is on at all. */
  get on(): boolean {
    return this.#ryw !== false;
  }

  /** The mark of the frame's session (or the process-wide one), if any. */
  peek(frame: Frame): WriteMark | undefined {
    const session = frame.session;
    return session === undefined ? this.#globalMark : session.marks.get(this.#owner);
  }

  /** The mark of the frame's session (or the process-wide one), created if needed. */
  mark(frame: Frame): WriteMark {
    const session = frame.session;
    if (session === undefined) return this.#globalMark;
    let mark = session.marks.get(this.#owner);
    if (mark === undefined) {
      mark = { lsn: undefined, at: 0 };
      session.marks.set(this.#owner, mark);
    }
    return mark;
  }

  /** Raises `mark` to `position` (a token, a readAfter position). */
  advance(mark: WriteMark, position: ReadPosition): void {
    mark.at = Math.max(mark.at, position.at);
    if (position.lsn !== undefined && (mark.lsn === undefined || position.lsn > mark.lsn)) {
      mark.lsn = position.lsn;
      mark.own = false;
    }
  }

  /**
   * Records a committed write in the frame's mark: the time, and in `lsn` mode the primary's
   * position — `probed` when the binding learned it in the write's round trip, else asked now
   * (the only case that returns a promise, so a write that brought its position does not wait).
   */
  noteWrite(frame: Frame, probed?: string | null): Promise<void> | undefined {
    const ryw = this.#ryw;
    if (ryw === false) return undefined;
    const mark = this.mark(frame);
    mark.at = Date.now();
    if (ryw.mode !== 'lsn') return undefined;
    if (probed === undefined) return this.#askPrimary(mark);
    raise(mark, probed);
    return undefined;
  }

  async #askPrimary(mark: WriteMark): Promise<void> {
    let text: string | null;
    try {
      text = await this.#health.probeNode(this.#health.primary, PRIMARY_POSITION_SQL);
    } catch {
      // Unknown position: reads go to the primary for a while (see windowMs).
      mark.lsn = undefined;
      return;
    }
    raise(mark, text);
  }

  /**
   * How long reads wait for a replica at the mark's position: 0 after the session's own write with
   * `ownWrites: 'primary'` (right after a write a replica is still receiving and replaying it, so
   * the primary answers sooner than any wait), else `readAfter`'s or the configured `waitMs`.
   */
  waitMs(mark: WriteMark): number {
    const ryw = this.#ryw;
    const lsn = ryw !== false && ryw.mode === 'lsn' ? ryw : undefined;
    if (mark.own === true && lsn?.ownWrites !== 'wait') return 0;
    return mark.waitMs ?? lsn?.waitMs ?? 200;
  }

  /** How long after a write of unknown position reads go to the primary (0: they need not). */
  windowMs(): number {
    const ryw = this.#ryw;
    return ryw === false ? 0 : ryw.mode === 'window' ? ryw.ms : Math.max(ryw.waitMs ?? 200, 1000);
  }

  /** Eligible replicas known to have replayed `lsn`. */
  ready(lsn: bigint): NodeState<N>[] {
    return this.#health.eligible.filter((r) => r.replayLsn !== undefined && r.replayLsn >= lsn);
  }

  /**
   * Asks the eligible replicas for their replay position until one replayed `lsn` or `waitMs`
   * passed (see {@link backoff}); resolves with those that did, or an empty list.
   */
  async waitFor(lsn: bigint, waitMs: number): Promise<NodeState<N>[]> {
    const started = Date.now();
    const deadline = started + waitMs;
    for (let attempt = 0; ; attempt++) {
      await Promise.all(this.#health.eligible.map((r) => this.#health.probeReplay(r)));
      const caughtUp = this.ready(lsn);
      if (caughtUp.length > 0) {
        this.#metrics()?.rywWait(Date.now() - started, 'replica');
        return caughtUp;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#health.eligible.length === 0) break;
      await backoff(attempt, left);
    }
    this.#metrics()?.rywWait(Date.now() - started, 'primary');
    return [];
  }
}

/** Raises `mark` to the primary position `text`; an unreadable one makes the position unknown. */
function raise(mark: WriteMark, text: string | null): void {
  if (text === null) return;
  let lsn: bigint;
  try {
    lsn = parseLsn(text);
  } catch {
    mark.lsn = undefined;
    return;
  }
  if (mark.lsn === undefined || lsn >= mark.lsn) {
    mark.lsn = lsn;
    mark.own = true;
  }
}

/**
 * The pause before asking a replica again (attempt 0, 1, ...), at most `left` ms: the next turn of
 * the event loop twice (a replica on a fast link replays within a round trip or two), then 1, 2,
 * 4... up to 50 ms.
 */
export function backoff(attempt: number, left: number): Promise<void> {
  if (attempt < 2) return new Promise((resolve) => setImmediate(resolve));
  const ms = Math.min(2 ** (attempt - 2), 50, left);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
