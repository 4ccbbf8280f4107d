/**
 * @module The TLS-RPT store contract: where session counts accumulate until a day is reported.
 * The relay ships a per-instance store (file-store.ts); a store shared by every instance (Redis,
 * SQL) implements the same interface, and then one report per domain and day covers them all.
 */
import type { DomainAggregate, TlsRptEvent } from './model.js';

export interface TlsRptStore {
  /**
   * Counts one session in the UTC day of `at`. Synchronous and never throws: delivery must neither
   * wait for nor fail because of reporting. A shared store buffers and writes in the background.
   * A session in a day already claimed for reporting is not counted (that report is written).
   */
  record(event: TlsRptEvent, at: Date): void;
  /** The day's aggregate so far (YYYY-MM-DD, UTC), per policy domain, sorted by domain. */
  day(date: string): Promise<readonly DomainAggregate[]>;
  /** Days before `date` that have data and were not claimed yet, oldest first. */
  unreportedDays(before: string): Promise<readonly string[]>;
  /**
   * Claims `date` for reporting, atomically: true for exactly one caller, false when the day was
   * claimed already (by this or another instance sharing the store: SET NX, INSERT … ON CONFLICT
   * DO NOTHING). From then on the day takes no more sessions.
   */
  claimDay(date: string): Promise<boolean>;
  /** Gives a claim back after the reports could not be written, so a later attempt retries. */
  releaseDay(date: string): Promise<void>;
  /** Writes what is buffered and stops background work. */
  close(): Promise<void>;
}
