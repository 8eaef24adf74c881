/**
 * A promise settled from outside, once: later calls to `resolve`/`reject` are ignored. An
 * unobserved rejection is not reported as unhandled (the owner may never be asked for it).
 */
export class SettleOnce {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;
  #settled = false;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  /** Whether it is settled. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves it, unless settled already. */
  resolve(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve();
  }

  /** Rejects it with `error`, unless settled already. */
  reject(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}
