/**
 * @module Authentication failure budgets: per client address and per username, a growing delay
 * before each failure reply, then refusal until the window passes. Bounded in memory.
 */

export interface BudgetLimits {
  /** Failures allowed within the window before AUTH is refused. */
  readonly maxFailures: number;
  readonly windowMs: number;
}

export interface DelayPolicy {
  /** Delay before the first failure reply; doubles with each further failure. */
  readonly baseMs: number;
  readonly maxMs: number;
}

interface Entry {
  failures: number;
  firstAt: number;
}

export class FailureBudget {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly limits: BudgetLimits,
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Failures counted for `key` within the current window. */
  failures(key: string): number {
    const e = this.#live(key);
    return e ? e.failures : 0;
  }

  exhausted(key: string): boolean {
    return this.failures(key) >= this.limits.maxFailures;
  }

  /** Counts one failure; returns the new count. */
  fail(key: string): number {
    const e = this.#live(key) ?? { failures: 0, firstAt: this.now() };
    e.failures += 1;
    // Re-insert so the Map's order stays least-recently-failed first, for eviction.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return e.failures;
  }

  /** A success clears the key's count (a user who remembered the password is not punished). */
  succeed(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && this.now() - e.firstAt > this.limits.windowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }
}

/** The delay before replying to the n-th failure (n ≥ 1): base, 2×base, 4×base… capped. */
export function failureDelay(policy: DelayPolicy, failures: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
}
