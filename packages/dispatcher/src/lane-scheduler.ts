import { isThenable } from './_thenable.js';

/** A unit of work that must run after every earlier task sharing one of its lanes. */
export interface LaneTask {
  /** Distinct lane names (e.g. table + key). */
  lanes: string[];
  run: () => void | Promise<void>;
  /** Called when the task finished; `failed` tells whether `run` threw or rejected. */
  finished: (failed: boolean, error: unknown) => void;
  /** Lanes where an earlier task is still queued or running. */
  waiting: number;
}

/** A FIFO with O(1) shift. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * Runs up to `limit` tasks at once while tasks that share a lane run one after the other, in the
 * order they were added. This gives per-(table, key) order with parallelism across keys.
 */
export class LaneScheduler {
  private readonly lanes = new Map<string, Queue<LaneTask>>();
  private readonly ready = new Queue<LaneTask>();
  private active = 0;
  private queued = 0;
  private pumping = false;
  /** True once {@link LaneScheduler.halt} was called. */
  halted = false;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly limit: number) {}

  /** Tasks added and not finished (queued or running). */
  get size(): number {
    return this.queued;
  }

  /** Tasks running right now. */
  get running(): number {
    return this.active;
  }

  add(task: LaneTask): void {
    this.queued++;
    task.waiting = 0;
    for (const lane of task.lanes) {
      let queue = this.lanes.get(lane);
      if (!queue) {
        queue = new Queue();
        this.lanes.set(lane, queue);
      }
      if (queue.length > 0) task.waiting++;
      queue.push(task);
    }
    if (task.waiting === 0) this.ready.push(task);
    this.pump();
  }

  /** No task starts any more (running ones finish). */
  halt(): void {
    this.halted = true;
    this.notify();
  }

  /** Resolves once fewer than `max` tasks are queued or running. */
  whenBelow(max: number): Promise<void> {
    return this.when(() => this.queued < max || this.halted);
  }

  /** Resolves once every added task finished (or, when halted, every running task). */
  whenIdle(): Promise<void> {
    return this.when(() => this.queued === 0 || (this.halted && this.active === 0));
  }

  /** Resolves once no task is running. */
  whenSettled(): Promise<void> {
    return this.when(() => this.active === 0);
  }

  private when(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (waiter.test()) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.halted && this.active < this.limit && this.ready.length > 0) {
        const task = this.ready.shift()!;
        this.active++;
        let result: void | Promise<void>;
        try {
          result = task.run();
        } catch (error) {
          this.finish(task, true, error);
          continue;
        }
        if (isThenable(result)) {
          void result.then(
            () => this.finish(task, false, undefined),
            (error: unknown) => this.finish(task, true, error),
          );
        } else {
          this.finish(task, false, undefined);
        }
      }
    } finally {
      this.pumping = false;
    }
    this.notify();
  }

  private finish(task: LaneTask, failed: boolean, error: unknown): void {
    this.active--;
    this.queued--;
    for (const lane of task.lanes) {
      const queue = this.lanes.get(lane)!;
      queue.shift();
      const next = queue.peek();
      if (next === undefined) this.lanes.delete(lane);
      else if (--next.waiting === 0) this.ready.push(next);
    }
    task.finished(failed, error);
    this.pump();
  }
}
