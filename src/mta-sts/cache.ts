/**
 * @module The policy cache (RFC 8461 §5.1): one policy per domain until max_age after its fetch,
 * bounded, the least recently used dropped first.
 */
import type { StsPolicy } from './model.js';

export interface CachedPolicy {
  readonly policy: StsPolicy;
  /** Milliseconds since the epoch, as the source's clock reads. */
  readonly fetchedAt: number;
  /** `fetchedAt` plus max_age: from then on the policy is no longer used (§5.1). */
  readonly expiresAt: number;
}

export function cachedPolicy(policy: StsPolicy, fetchedAt: number): CachedPolicy {
  return { policy, fetchedAt, expiresAt: fetchedAt + policy.maxAgeSeconds * 1000 };
}

export class PolicyCache {
  /** Insertion order is recency order: the first key is the least recently used. */
  readonly #entries = new Map<string, CachedPolicy>();
  readonly #onChange: () => void;
  readonly maxEntries: number;

  /** `onChange` is called after every change: a policy stored, dropped as expired or evicted. */
  constructor(maxEntries: number, onChange: () => void = () => undefined) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries ${maxEntries} is not a positive integer`);
    this.maxEntries = maxEntries;
    this.#onChange = onChange;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The domain's unexpired policy, now the most recently used; an expired one is dropped. */
  get(domain: string, now: number): CachedPolicy | undefined {
    const entry = this.#entries.get(domain);
    if (entry === undefined) return undefined;
    this.#entries.delete(domain);
    if (now >= entry.expiresAt) {
      this.#onChange();
      return undefined;
    }
    this.#entries.set(domain, entry);
    return entry;
  }

  set(domain: string, entry: CachedPolicy): void {
    this.#entries.delete(domain);
    this.#entries.set(domain, entry);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#onChange();
  }

  /** Least recently used first, so that loading them back in order keeps the recency. */
  entries(): Array<[string, CachedPolicy]> {
    return [...this.#entries];
  }
}
