/**
 * @module The daily reporter: after each UTC day ends (and at start-up for past days not yet
 * reported) writes one gzip report per policy domain into a directory and, if asked, POSTs it to
 * the domain's `https:` rua (RFC 8460 §3, §5.3.2), retrying with backoff for at most a day (§5.4).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressResolver } from '../routing/addresses.js';
import { lookupTlsRpt, type TxtResolver } from '../probe/dns-records.js';
import type { Logger } from '../telemetry/logger.js';
import { utcDay } from './day.js';
import { buildReport, gzipReport, reportFileName, type ReporterIdentity } from './report.js';
import type { TlsRptStore } from './store.js';
import { submitReport } from './submit.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface ReporterOptions {
  readonly store: TlsRptStore;
  /** Where the `.json.gz` reports are written (created if missing). */
  readonly reportDirectory: string;
  readonly identity: ReporterIdentity;
  /** POST each report to the `https:` URIs of the domain's `_smtp._tls` record. */
  readonly submit: boolean;
  /** TXT lookups for `_smtp._tls.<domain>`, A/AAAA for the rua hosts. */
  readonly resolver: TxtResolver & AddressResolver;
  /** Trust anchors (PEM) for the rua servers; undefined: Node's bundled root store. */
  readonly ca?: string | readonly string[];
  /** One POST, connect to answer. Default 30 s. */
  readonly timeoutMs?: number;
  /**
   * Waits before the retries of a failed submission. §5.4: retry for up to 24 hours, with
   * exponential backoff. Default 15 min, 1 h, 4 h, 12 h; none past 24 h after the first attempt.
   */
  readonly retryDelaysMs?: readonly number[];
  /** Submissions in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Submissions waiting at most (the rest of a huge day is written but not sent). Default 10000. */
  readonly maxPending?: number;
  /** How often tick() runs on its own after start(); 0: never. Default 60 s. */
  readonly checkIntervalMs?: number;
  readonly now?: () => Date;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface TickResult {
  /** Reports written by this tick: file names in the report directory. */
  readonly written: readonly string[];
  /** POSTs answered 2xx by this tick. */
  readonly submitted: number;
  /** POSTs or lookups that failed in this tick (retried later or given up). */
  readonly failed: number;
}

/** One report on its way to a domain's rua URIs. */
interface Submission {
  readonly date: string;
  readonly policyDomain: string;
  readonly fileName: string;
  readonly body: Buffer;
  /** The https: URIs still to serve; undefined until the TXT record was looked up. */
  uris: string[] | undefined;
  /** Attempts made so far. */
  attempts: number;
  firstAttemptAt: number | undefined;
  dueAt: number;
}

export class TlsRptReporter {
  private readonly now: () => Date;
  private readonly retryDelaysMs: readonly number[];
  private pending: Submission[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TickResult> | undefined;

  constructor(private readonly options: ReporterOptions) {
    this.now = options.now ?? (() => new Date());
    this.retryDelaysMs = options.retryDelaysMs ?? [15 * MINUTE, HOUR, 4 * HOUR, 12 * HOUR];
  }

  /** Reports the past days not reported yet, then checks again every `checkIntervalMs`. */
  start(): Promise<TickResult> {
    const every = this.options.checkIntervalMs ?? MINUTE;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => void this.tick(), every);
      this.timer.unref();
    }
    return this.tick();
  }

  /** Submissions waiting for their first attempt or a retry. */
  get pendingSubmissions(): number {
    return this.pending.length;
  }

  /** One round: write the reports of ended days, then make the submissions that are due. */
  tick(): Promise<TickResult> {
    this.running ??= this.round()
      .catch((err: unknown) => {
        // Reporting never takes the relay down; the next check tries again.
        this.options.logger?.error({ err }, 'tls-rpt: report round failed');
        return { written: [], submitted: 0, failed: 0 };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<TickResult> {
    const log = this.options.logger;
    const today = utcDay(this.now());
    const written: string[] = [];
    for (const date of await this.options.store.unreportedDays(today)) {
      if (!(await this.options.store.claimDay(date))) continue;
      try {
        written.push(...(await this.writeReports(date)));
      } catch (err) {
        log?.error({ err, date }, 'tls-rpt: cannot write the reports; retrying at the next check');
        await this.options.store.releaseDay(date);
        break;
      }
    }
    const { submitted, failed } = this.options.submit
      ? await this.submitDue()
      : { submitted: 0, failed: 0 };
    return { written, submitted, failed };
  }

  private async writeReports(date: string): Promise<string[]> {
    const { identity, reportDirectory } = this.options;
    const domains = await this.options.store.day(date);
    await mkdir(reportDirectory, { recursive: true });
    const names: string[] = [];
    let dropped = 0;
    for (const aggregate of domains) {
      const body = gzipReport(buildReport(aggregate, date, identity));
      const fileName = reportFileName(aggregate.policyDomain, date, identity);
      const path = join(reportDirectory, fileName);
      await writeFile(`${path}.tmp`, body, { mode: 0o640 });
      await rename(`${path}.tmp`, path);
      names.push(fileName);
      if (!this.options.submit) continue;
      if (this.pending.length >= (this.options.maxPending ?? 10_000)) {
        dropped++;
        continue;
      }
      this.pending.push({
        date,
        policyDomain: aggregate.policyDomain,
        fileName,
        body,
        uris: undefined,
        attempts: 0,
        firstAttemptAt: undefined,
        dueAt: 0,
      });
    }
    this.options.logger?.info(
      { date, reports: names.length, directory: reportDirectory, notSubmitted: dropped },
      'tls-rpt: daily reports written',
    );
    return names;
  }

  private async submitDue(): Promise<{ submitted: number; failed: number }> {
    const now = this.now().getTime();
    const due = this.pending.filter((s) => s.dueAt <= now);
    let submitted = 0;
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length) {
        const s = due[next++] as Submission;
        const r = await this.attempt(s, now);
        submitted += r.submitted;
        failed += r.failed;
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, this.options.concurrency ?? 4) }, () => worker()),
    );
    return { submitted, failed };
  }

  /** One attempt: look the rua up (first time), POST to each URI left, then done or retry later. */
  private async attempt(
    s: Submission,
    now: number,
  ): Promise<{ submitted: number; failed: number }> {
    const log = this.options.logger;
    const where = { date: s.date, policyDomain: s.policyDomain, file: s.fileName };
    s.attempts++;
    s.firstAttemptAt ??= now;
    let submitted = 0;
    let failed = 0;
    if (s.uris === undefined) {
      const found = await lookupTlsRpt(this.options.resolver, s.policyDomain);
      if (found.record.status === 'dns-error') {
        failed++;
        log?.warn({ ...where, error: found.record.error }, 'tls-rpt: rua lookup failed');
      } else {
        // §3: mailto: rua need a mail submission path this relay does not have; https: only.
        s.uris = found.rua.filter((u) => /^https:/i.test(u));
        const skipped = found.rua.filter((u) => !/^https:/i.test(u));
        if (skipped.length > 0) log?.info({ ...where, skipped }, 'tls-rpt: mailto: rua not served');
      }
    }
    if (s.uris !== undefined) {
      const left: string[] = [];
      for (const uri of s.uris) {
        const r = await submitReport(uri, s.body, {
          resolver: this.options.resolver,
          ca: this.options.ca,
          timeoutMs: this.options.timeoutMs ?? 30_000,
        });
        if (r.ok) {
          submitted++;
          log?.info({ ...where, uri, status: r.status }, 'tls-rpt: report submitted');
        } else {
          failed++;
          left.push(uri);
          log?.warn(
            { ...where, uri, error: r.error, attempt: s.attempts },
            'tls-rpt: submit failed',
          );
        }
      }
      s.uris = left;
    }
    const done = s.uris !== undefined && s.uris.length === 0;
    const delay = this.retryDelaysMs[s.attempts - 1];
    const giveUp =
      !done && (delay === undefined || now + delay - (s.firstAttemptAt ?? now) > 24 * HOUR);
    if (done || giveUp) {
      this.pending = this.pending.filter((p) => p !== s);
      if (giveUp) log?.warn({ ...where, attempts: s.attempts }, 'tls-rpt: submission given up');
    } else {
      s.dueAt = now + (delay as number);
    }
    return { submitted, failed };
  }

  /** Stops the checks and waits for a round in progress. Waiting submissions are dropped. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
