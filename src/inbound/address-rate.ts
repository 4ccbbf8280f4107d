/**
 * @module Events per client address in a sliding 60-second window (Postfix anvil's
 * `smtpd_client_connection_rate_limit` and `smtpd_client_new_tls_session_rate_limit`). Memory is
 * bounded: at most `perMinute` timestamps per address, and at most `maxAddresses` addresses.
 */

const WINDOW_MS = 60_000;

export class AddressRate {
  readonly #events = new Map<string, number[]>();

  /** `perMinute` 0 means unlimited. */
  constructor(
    private readonly perMinute: number,
    private readonly maxAddresses = 100_000,
  ) {}

  /**
   * Records one event for `address` and says whether it is within the rate. An event over the
   * rate is not recorded, so a client that keeps trying gets in again as its old events age out.
   */
  allow(address: string, now = Date.now()): boolean {
    if (this.perMinute <= 0) return true;
    const recent = (this.#events.get(address) ?? []).filter((t) => t > now - WINDOW_MS);
    if (recent.length >= this.perMinute) {
      this.#events.set(address, recent);
      return false;
    }
    recent.push(now);
    this.#events.delete(address);
    this.#events.set(address, recent);
    if (this.#events.size > this.maxAddresses) this.#forgetOldest(now);
    return true;
  }

  get addresses(): number {
    return this.#events.size;
  }

  /** Drops addresses with no event in the window, then the least recently seen ones. */
  #forgetOldest(now: number): void {
    for (const [address, times] of this.#events) {
      if ((times[times.length - 1] ?? 0) <= now - WINDOW_MS) this.#events.delete(address);
    }
    for (const address of this.#events.keys()) {
      if (this.#events.size <= this.maxAddresses) break;
      this.#events.delete(address);
    }
  }
}
