/**
 * @module The per-instance TLS-RPT store: counts in memory, each changed day written to
 * `<directory>/YYYY-MM-DD.json` every few seconds and on close (a crash loses at most that
 * interval). Another process (the CLI) reads the same files. Not shared between instances.
 */
import type { Logger } from '../telemetry/logger.js';
import {
  DayAggregate,
  DEFAULT_LIMITS,
  type AddOutcome,
  type AggregateLimits,
} from './aggregate.js';
import { addDays, utcDay } from './day.js';
import { listDayFiles, readDayFile, removeDayFile, writeDayFile } from './day-file.js';
import type { DomainAggregate, TlsRptEvent } from './model.js';
import type { TlsRptStore } from './store.js';

export interface FileStoreOptions {
  /** Where the day files live, e.g. `<stateDir>/tls-rpt`. */
  readonly directory: string;
  /** How often changed days are written; 0: only on flush() and close(). Default 5000. */
  readonly flushIntervalMs?: number;
  /** Reported days are kept this many days (for the CLI), then deleted. Default 7. */
  readonly retentionDays?: number;
  readonly limits?: Partial<AggregateLimits>;
  readonly now?: () => Date;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

interface Day {
  readonly aggregate: DayAggregate;
  reported: boolean;
  /** Sessions left out of the counts today, by reason: logged once per day and reason. */
  readonly refused: Map<Exclude<AddOutcome, 'counted'> | 'day-reported', number>;
}

export class FileTlsRptStore implements TlsRptStore {
  private readonly days = new Map<string, Day>();
  private readonly dirty = new Set<string>();
  private readonly limits: AggregateLimits;
  private readonly now: () => Date;
  private readonly timer: NodeJS.Timeout | undefined;
  /** Writes run one after another: a day file is never written by two calls at once. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: FileStoreOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.now = options.now ?? (() => new Date());
    const interval = options.flushIntervalMs ?? 5000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.flush(), interval);
      this.timer.unref();
    }
  }

  /** Opens the store and reads back every day file in the directory. */
  static async open(options: FileStoreOptions): Promise<FileTlsRptStore> {
    const store = new FileTlsRptStore(options);
    for (const date of await listDayFiles(options.directory)) {
      try {
        const file = await readDayFile(options.directory, date);
        if (!file) continue;
        store.days.set(date, {
          aggregate: DayAggregate.from(file.domains, store.limits),
          reported: file.reported,
          refused: new Map(),
        });
      } catch (err) {
        // A damaged file is left in place for a human; the day starts again from zero.
        options.logger?.error({ err, date }, 'tls-rpt: day file unreadable, ignored');
      }
    }
    return store;
  }

  private entry(date: string): Day {
    let day = this.days.get(date);
    if (!day) {
      day = { aggregate: new DayAggregate(this.limits), reported: false, refused: new Map() };
      this.days.set(date, day);
    }
    return day;
  }

  record(event: TlsRptEvent, at: Date): void {
    if (this.closed) return;
    const date = utcDay(at);
    const day = this.entry(date);
    const outcome = day.reported ? 'day-reported' : day.aggregate.add(event);
    if (outcome === 'counted') {
      this.dirty.add(date);
      return;
    }
    const seen = day.refused.get(outcome) ?? 0;
    day.refused.set(outcome, seen + 1);
    if (seen === 0) {
      this.options.logger?.warn(
        { date, reason: outcome, policyDomain: event.policyDomain, limits: this.limits },
        'tls-rpt: session not counted (logged once per day and reason)',
      );
    }
  }

  day(date: string): Promise<readonly DomainAggregate[]> {
    return Promise.resolve(this.days.get(date)?.aggregate.snapshot() ?? []);
  }

  unreportedDays(before: string): Promise<readonly string[]> {
    return Promise.resolve(
      [...this.days.entries()]
        .filter(([d, day]) => d < before && !day.reported && day.aggregate.domainCount > 0)
        .map(([d]) => d)
        .sort(),
    );
  }

  /** The claim is on disk before this returns: after a crash the day is not reported twice. */
  async claimDay(date: string): Promise<boolean> {
    const day = this.entry(date);
    if (day.reported) return false;
    day.reported = true;
    this.dirty.add(date);
    await this.flush();
    return true;
  }

  async releaseDay(date: string): Promise<void> {
    const day = this.days.get(date);
    if (!day?.reported) return;
    day.reported = false;
    this.dirty.add(date);
    await this.flush();
  }

  /** Writes every changed day, and deletes reported days past the retention. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeChanged());
    return this.writing;
  }

  private async writeChanged(): Promise<void> {
    const { directory } = this.options;
    for (const date of [...this.dirty]) {
      const day = this.days.get(date);
      this.dirty.delete(date);
      if (!day) continue;
      try {
        await writeDayFile(directory, {
          date,
          reported: day.reported,
          domains: day.aggregate.snapshot(),
        });
      } catch (err) {
        this.dirty.add(date);
        this.options.logger?.error({ err, date }, 'tls-rpt: cannot write day file');
      }
    }
    const oldest = addDays(utcDay(this.now()), -(this.options.retentionDays ?? 7));
    for (const [date, day] of this.days) {
      if (!day.reported || date >= oldest || this.dirty.has(date)) continue;
      try {
        await removeDayFile(directory, date);
        this.days.delete(date);
      } catch (err) {
        this.options.logger?.error({ err, date }, 'tls-rpt: cannot remove old day file');
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    await this.flush();
  }
}
