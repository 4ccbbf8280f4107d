/**
 * @module Concurrent session limits across all listeners: a global ceiling and one per client
 * address, so one peer cannot take every slot. Refused at connect with 421 4.7.0 (RFC 5321 §3.1).
 */

export type Admission = 'admitted' | 'global_limit' | 'address_limit';

export class SessionLimits {
  #total = 0;
  readonly #byAddress = new Map<string, number>();

  constructor(
    private readonly maxSessions: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Takes a slot for `address`, or says which limit is reached. */
  admit(address: string): Admission {
    const mine = this.#byAddress.get(address) ?? 0;
    if (this.#total >= this.maxSessions) return 'global_limit';
    if (mine >= this.maxPerAddress) return 'address_limit';
    this.#total += 1;
    this.#byAddress.set(address, mine + 1);
    return 'admitted';
  }

  release(address: string): void {
    const mine = this.#byAddress.get(address) ?? 0;
    if (mine <= 0) return;
    this.#total -= 1;
    if (mine === 1) this.#byAddress.delete(address);
    else this.#byAddress.set(address, mine - 1);
  }

  get total(): number {
    return this.#total;
  }
}
